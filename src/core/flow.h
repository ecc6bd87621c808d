// Pieces of the workload model shared by the simulator (simulator.cc) and the
// demand trace (workload.cc), so that both read a scenario's ops the same way.
// Internal to the core library.
#ifndef MEMCOORD_SRC_CORE_FLOW_H_
#define MEMCOORD_SRC_CORE_FLOW_H_

#include <algorithm>

#include "memcoord/scenario.h"

namespace memcoord::internal {

// Times are computed as step_index * step_s, so the tolerance only absorbs
// the rounding of that product (0.1 * 3 = 0.30000000000000004).
constexpr double kTimeEps = 1e-9;

// A workload quantity that changes at a rate; rate 0 is applied by the event
// itself and never stays pending. A new op adds to what is pending and sets
// the rate.
struct Flow {
  double remaining_mib = 0;
  double rate_mib_s = 0;

  double Take(double dt) {
    if (remaining_mib <= 0) return 0;
    double amount = std::min(remaining_mib, rate_mib_s * dt);
    remaining_mib -= amount;
    if (remaining_mib < kTimeEps) remaining_mib = 0;
    return amount;
  }
  void Add(double mib, double rate) {
    remaining_mib += mib;
    rate_mib_s = rate;
  }
  void Clear() { *this = Flow(); }
};

inline bool IsLifecycle(WorkloadOp::Kind k) {
  return k == WorkloadOp::Kind::kStart || k == WorkloadOp::Kind::kDestroy;
}

// A guest that is told to start later, by at_s or by a start op that comes
// before any destroy, does not exist until then.
inline bool StartsAbsent(const ScenarioGuest& spec) {
  if (spec.at_s.has_value() && *spec.at_s > kTimeEps) return true;
  for (const WorkloadOp& op : spec.workload) {
    if (IsLifecycle(op.kind)) return op.kind == WorkloadOp::Kind::kStart;
  }
  return false;
}

}  // namespace memcoord::internal

#endif  // MEMCOORD_SRC_CORE_FLOW_H_
