// SimHypervisor: a deterministic model of a host and its guests (README "The
// simulator and the scores").
//
// Guest model, in MiB internally:
//   used = base_used + anon; unused = actual - used - cache;
//   usable = unused + cache; available = actual.
// The balloon moves toward its target at balloon_rate_mib_s; shrinking evicts
// cache first and stops at used + 16 MiB. An allocation that does not fit
// evicts cache, then swaps (swap_in/major_fault counters grow), then OOM-kills
// the workload (anon back to 0, counted). Host free = total - host_used -
// sum(actual).
//
// Time: the model runs on scenario seconds = clock.NowSeconds() - start_s, and
// advances in fixed steps of `step_s` whenever Sample() or AdvanceTo() is
// called; the same calls at the same times give the same numbers. Stats are
// refreshed once per simulated second (stats_time_s on the clock's timeline).
// Scores accumulate over every step. Not thread-safe.
#ifndef MEMCOORD_SIMULATOR_H_
#define MEMCOORD_SIMULATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/hypervisor.h"
#include "memcoord/scenario.h"

namespace memcoord {

// Constants of the guest model, for policies and tests that reason about it.
// The balloon never takes the last kSimBalloonHeadroomMib above used.
inline constexpr double kSimBalloonHeadroomMib = 16;
// A guest is under pressure (Scores::pressure_s) while usable is below
// SimPressureLineMib(actual), or while it swaps in.
inline constexpr double kSimPressureMinMib = 64;
inline constexpr double kSimPressureFraction = 0.05;
constexpr double SimPressureLineMib(double actual_mib) {
  return actual_mib * kSimPressureFraction > kSimPressureMinMib
             ? actual_mib * kSimPressureFraction
             : kSimPressureMinMib;
}
// Unused memory beyond this counts in Scores::waste_mib.
inline constexpr double kSimWasteLineMib = 300;
// Guests refresh their balloon stats once per simulated second.
inline constexpr double kSimStatsPeriodS = 1;

// Inspection view of one simulated guest (MiB).
struct SimGuestState {
  std::string name;
  bool running = false;
  double actual_mib = 0;
  double target_mib = 0;
  double max_mib = 0;
  double anon_mib = 0;
  double cache_mib = 0;
  double base_used_mib = 0;
  double swapped_mib = 0;  // anon currently in swap
  double unused_mib = 0;
  double usable_mib = 0;
  int64_t oom_kills = 0;
  bool stats = true;
};

// Faults a test can inject. All default to off.
struct SimFaults {
  bool sample_fails = false;            // Sample() returns kUnavailable
  std::set<std::string> set_fails;      // SetTarget fails for these guests
  std::set<std::string> stale;          // stats stop refreshing
  std::set<std::string> vanish_on_set;  // guest is destroyed by SetTarget
};

class SimHypervisor : public Hypervisor {
 public:
  static constexpr double kDefaultStepS = 0.1;
  // The scenario must have passed ValidateScenario(). start_s is the clock
  // time that is scenario second 0.
  SimHypervisor(Scenario scenario, const Clock* clock, double start_s,
                double step_s = kDefaultStepS);
  ~SimHypervisor() override;

  Result<Snapshot> Sample() override;
  Status SetTarget(const std::string& domain, int64_t target_kib) override;
  HypervisorHealth Health() const override;

  // Runs the model up to scenario second t (no-op if already there).
  void AdvanceTo(double scenario_s);
  double scenario_time_s() const;
  const Scenario& scenario() const;
  // Scores so far (host_free_mib and waste_mib are means over elapsed time).
  Scores scores() const;
  std::vector<SimGuestState> guests() const;
  std::optional<SimGuestState> guest(const std::string& name) const;
  double host_free_mib() const;
  SimFaults& faults();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memcoord

#endif  // MEMCOORD_SIMULATOR_H_
