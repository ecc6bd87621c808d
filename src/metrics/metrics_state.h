// MetricsState: turns the stream of TickReports into Prometheus metric
// families. It keeps what must survive between ticks (counters, the last good
// sample) and builds a complete, self-contained family vector for the current
// tick; it knows nothing about HTTP.
//
// Units: inputs in KiB and seconds (the model's), outputs in bytes and
// seconds. Not thread-safe: one writer; PrometheusMetrics serialises calls and
// publishes the built families to readers.
#ifndef MEMCOORD_SRC_METRICS_METRICS_STATE_H_
#define MEMCOORD_SRC_METRICS_METRICS_STATE_H_

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "memcoord/controller.h"
#include "memcoord/hypervisor.h"
#include "memcoord/model.h"
#include "memcoord/policy.h"

namespace memcoord::metrics_internal {

// Upper bounds of memcoord_cycle_duration_seconds, seconds (+Inf implied).
inline constexpr std::array<double, 13> kCycleBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A counter that mirrors a cumulative value from elsewhere (a guest's swap
// counter) and stays monotonic when the source is reset.
class MirroredCounter {
 public:
  void Observe(int64_t raw);
  bool seen() const { return last_raw_.has_value(); }
  double value() const { return total_; }

 private:
  std::optional<int64_t> last_raw_;
  double total_ = 0;
};

class MetricsState {
 public:
  MetricsState();

  void Record(const TickReport& report, const HypervisorHealth& health);
  void SetBuildInfo(std::string version, std::string policy);
  void SetConfigReloadSuccess(bool ok);

  // Every family of the current state, in a fixed order; per-domain series
  // sorted by domain name.
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  // The gauge values of one guest from the last good sample.
  struct GuestRow {
    std::string name;
    int64_t actual_kib = 0;
    int64_t maximum_kib = 0;
    std::optional<int64_t> unused_kib;
    std::optional<int64_t> usable_kib;
    std::optional<int64_t> available_kib;
    std::optional<int64_t> rss_kib;
    int64_t target_kib = 0;
    std::optional<double> stats_time_s;
    GuestClass guest_class = GuestClass::kUnknown;
  };
  struct DomainCounters {
    MirroredCounter swap_in_kib;
    MirroredCounter swap_out_kib;
    MirroredCounter major_faults;
    // (direction, reason) -> count
    std::map<std::pair<std::string, std::string>, double> actions;
    double grown_bytes = 0;
    double shrunk_bytes = 0;
    double errors = 0;
  };

  void RecordSample(const TickReport& report);
  void RecordResults(const TickReport& report);

  // From the last good sample (kept across failed samples).
  std::vector<GuestRow> guests_;  // sorted by name
  std::optional<HostSample> host_;
  std::optional<PolicyParams> params_;
  std::map<std::string, DomainCounters> domains_;

  // Loop.
  double last_time_s_ = 0;  // report.time_s of the last tick
  std::optional<double> last_cycle_end_s_;
  std::array<uint64_t, kCycleBuckets.size()>
      cycle_buckets_{};  // not cumulative
  uint64_t cycles_ = 0;
  double cycle_seconds_sum_ = 0;
  double sample_errors_ = 0;
  ClampCounts clamps_;
  std::optional<HypervisorHealth> health_;
  bool dry_run_ = false;
  std::string version_;
  std::string build_policy_;
  std::string report_policy_;
  bool config_reload_success_ = true;
};

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_METRICS_STATE_H_
