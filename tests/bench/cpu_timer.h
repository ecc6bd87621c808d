// CPU time of the calling thread, for benchmarks on shared machines.
//
// Wall time counts whatever else the machine runs; the benchmark thread's CPU
// time (CLOCK_THREAD_CPUTIME_ID) counts only the work measured, and on an
// idle machine the two agree. TimeCpu() subtracts the cost of reading the
// clock (the median of many back-to-back reads), so that short calls are not
// dominated by it. Seconds, as a double. Thread-safe.
#ifndef MEMCOORD_TESTS_BENCH_CPU_TIMER_H_
#define MEMCOORD_TESTS_BENCH_CPU_TIMER_H_

#include <time.h>

#include <algorithm>
#include <vector>

namespace memcoord::bench {

inline double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double ClockOverheadSeconds() {
  static const double overhead = [] {
    std::vector<double> d(1001);
    for (double& x : d) {
      const double a = ThreadCpuSeconds();
      x = ThreadCpuSeconds() - a;
    }
    std::nth_element(d.begin(), d.begin() + 500, d.end());
    return d[500];
  }();
  return overhead;
}

// CPU seconds `fn` took on this thread (at least 1 ns).
template <typename Fn>
double TimeCpu(Fn&& fn) {
  const double start = ThreadCpuSeconds();
  fn();
  const double end = ThreadCpuSeconds();
  return std::max(end - start - ClockOverheadSeconds(), 1e-9);
}

}  // namespace memcoord::bench

#endif  // MEMCOORD_TESTS_BENCH_CPU_TIMER_H_
