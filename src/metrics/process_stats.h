// The daemon's own process figures, as every Prometheus exporter exports
// them (process_* metrics), read from procfs.
//
// ReadProcessStats() reads /proc/self/stat, /proc/self/limits and the
// entries of /proc/self/fd; std::nullopt when procfs cannot be read (it is
// then simply not exported). Thread-safe: it keeps no state.
#ifndef MEMCOORD_SRC_METRICS_PROCESS_STATS_H_
#define MEMCOORD_SRC_METRICS_PROCESS_STATS_H_

#include <optional>

namespace memcoord::metrics_internal {

struct ProcessStats {
  double cpu_seconds = 0;       // user + system
  double start_time_s = 0;      // Unix time the process started
  double resident_bytes = 0;    // resident set size
  double virtual_bytes = 0;     // virtual memory size
  double open_fds = 0;
  std::optional<double> max_fds;  // the soft limit; none when unlimited
};

std::optional<ProcessStats> ReadProcessStats();

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_PROCESS_STATS_H_
