// Controller: one tick of the loop (README "How it works").
//
//   Sample -> Decide -> Enforce guardrails -> SetTarget (unless dry-run) ->
//   Record
//
// Tick() never throws and never aborts on one guest's failure: a failed sample
// is reported in the TickReport and nothing is set; a failed set costs only
// that action. The controller logs one line per action and one line per guest
// state change (appeared, gone, stats lost, stats back, stats stale, stats
// fresh again, set failing, set recovered, balloon without autodeflate, kept
// from shrinking by guardrails.require_autodeflate), never the same error
// every tick.
// Not thread-safe: Tick() and Configure() are called from one thread;
// MetricsSink implementations take care of their own readers.
#ifndef MEMCOORD_CONTROLLER_H_
#define MEMCOORD_CONTROLLER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/guardrails.h"
#include "memcoord/hypervisor.h"
#include "memcoord/log.h"
#include "memcoord/model.h"
#include "memcoord/policy.h"
#include "memcoord/status.h"

namespace memcoord {

struct ActionResult {
  Action action;
  Status status;      // OK, or why SetTarget failed
  bool sent = false;  // false in dry-run
};

struct TickReport {
  double time_s = 0;      // Clock time at the start of the tick
  double duration_s = 0;  // wall time the tick took (steady clock)
  Status sample_status;   // non-OK: nothing below the snapshot is meaningful
  Snapshot snapshot;      // managed and unmanaged included guests
  Plan proposed;          // the policy's plan
  Plan applied;           // after guardrails
  ClampCounts clamps;
  std::vector<ActionResult> results;
  std::map<std::string, GuestClass> classes;
  bool dry_run = false;
  std::string policy;
  PolicyParams params;  // thresholds in force
};

// Receives every tick's report. Implementations must copy what they need.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void Record(const TickReport& report,
                      const HypervisorHealth& health) = 0;
};

// The policy parameters a configuration gives (thresholds, guardrails,
// interval).
PolicyParams PolicyParamsOf(const Config& config);

class Controller {
 public:
  // All pointers must outlive the controller; `metrics` may be null.
  Controller(Hypervisor* hypervisor, const Clock* clock, Logger* logger,
             MetricsSink* metrics);
  // Builds the policy and parameters from `config`. On error the previous
  // configuration stays in force. The policy is rebuilt (its history lost)
  // only when its name or parameters change.
  Status Configure(const Config& config);
  // As Configure(config), but ticks with `policy` (not null) instead of the
  // one config.policy names; config.policy must still be valid. This is how
  // the simulator runs a policy the daemon cannot build (the oracle). A later
  // Configure(config) replaces it.
  Status Configure(const Config& config, std::unique_ptr<Policy> policy);
  TickReport Tick();
  const Config& config() const { return config_; }
  PolicyParams policy_params() const;
  GuardrailParams guardrail_params() const;

 private:
  // What the log last said about a guest's balloon autodeflate.
  enum class AutodeflateNote { kNone, kOff, kOffRequired, kUnknownRequired };
  struct GuestMemo {
    AutodeflateNote autodeflate = AutodeflateNote::kNone;
    bool had_stats = false;
    bool stale = false;
    bool set_failing = false;
    bool seen = false;
    // The last dry-run action logged: the same plan is not logged again.
    std::optional<Action> planned;
  };
  void Adopt(const Config& config);
  void NoteGuestStates(const Snapshot& snapshot, double stale_after_s);
  void NoteAutodeflate(const GuestSample& g, GuestMemo& m);

  Hypervisor* hypervisor_;
  const Clock* clock_;
  Logger* logger_;
  MetricsSink* metrics_;
  Config config_;
  std::unique_ptr<Policy> policy_;
  bool sample_failing_ = false;
  std::map<std::string, GuestMemo> memo_;
};

}  // namespace memcoord

#endif  // MEMCOORD_CONTROLLER_H_
