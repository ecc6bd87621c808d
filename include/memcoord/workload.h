// The memory a scenario guest's workload asks for over time.
//
// TraceDemand replays a guest's ops with the simulator's own rules (allocs and
// frees at their rates, free_all, destroy, start, the guest's at_s) on the
// simulator's step grid, as if every request were granted: no OOM kill, no
// swap. Step k is scenario second k * step_s, in the state the simulator has
// after that step's events fired. Sizes MiB. Pure; value types.
#ifndef MEMCOORD_WORKLOAD_H_
#define MEMCOORD_WORKLOAD_H_

#include <cstddef>
#include <vector>

#include "memcoord/scenario.h"

namespace memcoord {

struct DemandTrace {
  double step_s = 0.1;
  // Per step: base_used + anon while the guest runs, 0 while it does not.
  std::vector<double> used_mib;
  std::vector<bool> running;
  // The guest has balloon stats switched on (it reports within a second).
  std::vector<bool> stats_on;

  size_t size() const { return used_mib.size(); }
  // The step at or before scenario second t, clamped to the trace.
  size_t StepAt(double t_s) const;
  // The largest used_mib over steps [from, to] (clamped; 0 if empty).
  double PeakUsedMib(size_t from, size_t to) const;
};

// Steps 0 .. ceil(duration_s / step_s). `guest` must have passed
// ValidateScenario(); step_s must be > 0.
DemandTrace TraceDemand(const ScenarioGuest& guest, double duration_s,
                        double step_s);

}  // namespace memcoord

#endif  // MEMCOORD_WORKLOAD_H_
