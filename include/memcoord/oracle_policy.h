// The oracle: a clairvoyant policy for the simulator only.
//
// It reads the scenario's future workload (workload.h) and sets each guest's
// target ahead of its demand: enough for the peak of its use over the next
// decision plus the time the balloon needs to get there, plus room above the
// pressure line, and early enough that the balloon, at the guest's
// balloon_rate_mib_s, stays ahead of demand that later grows faster than it;
// within the guest's floor and ceiling and within host
// capacity and the guest budget; where demand does not fit, guests share by
// shares x deficit. Its plans pass the guardrails (guardrails.h) unclamped in
// the normal case: shrinks respect G1 and G3, grows fit G2 and G6 counting
// growth still in flight, listed most urgent first.
//
// It is a lower bound for the scores, not a policy for real hosts: the daemon
// cannot build it (MakePolicy and Config::Validate refuse kOraclePolicyName);
// RunScenario (simulate.h) builds it for `simulate`. Pure like every policy:
// Decide() depends on the snapshot and the scenario only. Not thread-safe.
#ifndef MEMCOORD_ORACLE_POLICY_H_
#define MEMCOORD_ORACLE_POLICY_H_

#include <memory>

#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/simulator.h"

namespace memcoord {

struct OracleOptions {
  // The simulator's step and the clock time of scenario second 0, as given
  // to the SimHypervisor the oracle is run against.
  double step_s = SimHypervisor::kDefaultStepS;
  double start_s = 0;
};

// `scenario` must have passed ValidateScenario(); the oracle keeps a copy.
std::unique_ptr<Policy> NewOraclePolicy(const Scenario& scenario,
                                        const PolicyParams& params,
                                        const OracleOptions& options = {});

}  // namespace memcoord

#endif  // MEMCOORD_ORACLE_POLICY_H_
