// Running scenarios against policies in simulated time, and their reports.
//
// RunScenario drives a SimHypervisor and a Controller with a ManualClock,
// ticking every scenario interval_s from 0 to duration_s. Deterministic: the
// same scenario, policy and config give the same Scores and timeline. The
// formatting functions return text; writing files is the caller's job.
#ifndef MEMCOORD_SIMULATE_H_
#define MEMCOORD_SIMULATE_H_

#include <functional>
#include <string>
#include <vector>

#include "memcoord/config.h"
#include "memcoord/controller.h"
#include "memcoord/scenario.h"
#include "memcoord/simulator.h"

namespace memcoord {

// One row per guest per tick.
struct TimelineRow {
  double time_s = 0;
  std::string domain;
  double actual_mib = 0;
  double target_mib = 0;
  double unused_mib = 0;
  double usable_mib = 0;
  double host_free_mib = 0;
};

struct RunResult {
  std::string scenario;
  std::string policy;
  Scores scores;
  std::vector<TimelineRow> timeline;  // filled when requested
};

struct RunOptions {
  bool keep_timeline = false;
  // Called after every tick with the controller's report and the simulator,
  // e.g. for tests that check guardrails on every tick.
  std::function<void(const TickReport&, const SimHypervisor&)> on_tick;
};

// What `simulate` runs: PolicyNames() and then kOraclePolicyName, the
// clairvoyant lower bound (oracle_policy.h), which only the simulator builds.
const std::vector<std::string>& SimulatePolicyNames();
// OK for a name in SimulatePolicyNames(), else kInvalidArgument naming them.
Status CheckSimulatePolicy(const std::string& policy);

// `base` supplies thresholds and guardrails; its policy is replaced by
// `policy` (one of SimulatePolicyNames()) and its interval and budget by the
// scenario's.
Result<RunResult> RunScenario(const Scenario& scenario, const std::string& policy,
                              const Config& base, const RunOptions& options = {});

// A fixed-width table: one row per (scenario, policy), one column per score.
std::string FormatScoreTable(const std::vector<RunResult>& results);
// "time_s,domain,actual_mib,target_mib,unused_mib,usable_mib,host_free_mib".
std::string FormatTimelineCsv(const std::vector<TimelineRow>& rows);

}  // namespace memcoord

#endif  // MEMCOORD_SIMULATE_H_
