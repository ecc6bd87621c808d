#include "memcoord/workload.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "flow.h"

namespace memcoord {

using internal::Flow;
using internal::kTimeEps;

size_t DemandTrace::StepAt(double t_s) const {
  if (used_mib.empty() || t_s <= 0) return 0;
  const auto k = static_cast<size_t>(std::floor(t_s / step_s + kTimeEps));
  return std::min(k, used_mib.size() - 1);
}

double DemandTrace::PeakUsedMib(size_t from, size_t to) const {
  if (used_mib.empty()) return 0;
  to = std::min(to, used_mib.size() - 1);
  double peak = 0;
  for (size_t k = from; k <= to; ++k) peak = std::max(peak, used_mib[k]);
  return peak;
}

DemandTrace TraceDemand(const ScenarioGuest& guest, double duration_s,
                        double step_s) {
  using K = WorkloadOp::Kind;
  DemandTrace trace;
  trace.step_s = step_s;
  // The guest's own start (at_s) comes before its ops at the same time, as
  // in the simulator's event order.
  std::vector<WorkloadOp> ops;
  if (guest.at_s && *guest.at_s > kTimeEps) {
    WorkloadOp start;
    start.kind = K::kStart;
    start.at_s = *guest.at_s;
    ops.push_back(start);
  }
  ops.insert(ops.end(), guest.workload.begin(), guest.workload.end());
  std::stable_sort(
      ops.begin(), ops.end(),
      [](const WorkloadOp& a, const WorkloadOp& b) { return a.at_s < b.at_s; });

  bool running = false;
  bool stats_on = guest.stats;
  double anon = 0;
  Flow alloc;
  Flow free;
  auto boot = [&] {
    running = true;
    stats_on = guest.stats;
    anon = 0;
    alloc.Clear();
    free.Clear();
  };
  auto free_anon = [&](double mib) {
    anon -= std::min(mib, anon);
    if (anon <= kTimeEps) anon = 0;
  };
  auto apply = [&](const WorkloadOp& op) {
    if (op.kind == K::kStart) {
      if (!running) boot();
      return;
    }
    if (!running) return;
    switch (op.kind) {
      case K::kAlloc:
        if (op.rate_mib_s > 0) {
          alloc.Add(op.mib, op.rate_mib_s);
        } else {
          anon += op.mib;
        }
        break;
      case K::kFree:
        if (op.rate_mib_s > 0) {
          free.Add(op.mib, op.rate_mib_s);
        } else {
          free_anon(op.mib);
        }
        break;
      case K::kFreeAll:
        anon = 0;
        alloc.Clear();
        free.Clear();
        break;
      case K::kStats:
        stats_on = op.on;
        break;
      case K::kDestroy:
        running = false;
        break;
      default:  // page cache does not count as demand
        break;
    }
  };

  if (!internal::StartsAbsent(guest)) boot();
  const auto steps =
      static_cast<size_t>(std::ceil(duration_s / step_s - kTimeEps));
  trace.used_mib.reserve(steps + 1);
  size_t next = 0;
  for (size_t k = 0;; ++k) {
    const double now = static_cast<double>(k) * step_s;
    while (next < ops.size() && ops[next].at_s <= now + kTimeEps) {
      apply(ops[next++]);
    }
    trace.used_mib.push_back(running ? guest.base_used_mib + anon : 0);
    trace.running.push_back(running);
    trace.stats_on.push_back(running && stats_on);
    if (k == steps) break;
    if (running) {
      free_anon(free.Take(step_s));
      anon += alloc.Take(step_s);
    }
  }
  return trace;
}

}  // namespace memcoord
