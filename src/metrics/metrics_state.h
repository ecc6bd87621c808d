// MetricsState: turns the stream of TickReports into immutable per-tick views
// (TickView, plain structs) and renders a view as Prometheus metric families
// or as exposition text. It keeps what must survive between ticks (counters,
// the last good sample); it knows nothing about HTTP.
//
// Cost: Record() is O(guests) with no string copies in the steady state (the
// same guests as the last tick); the guests are sorted by name only when the
// set of guests changes. View() copies one plain row per guest. Building the
// families and the text (Families(), RenderText()) is the expensive part and
// is meant to run when a scrape asks for it, not on the tick thread.
//
// Units: inputs in KiB and seconds (the model's), outputs in bytes and
// seconds. MetricsState is not thread-safe (one writer); a TickView is
// immutable and may be read from any number of threads.
//
// Errors: nothing here reports errors; allocation failure throws
// std::bad_alloc, which PrometheusMetrics catches.
#ifndef MEMCOORD_SRC_METRICS_METRICS_STATE_H_
#define MEMCOORD_SRC_METRICS_METRICS_STATE_H_

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "memcoord/controller.h"
#include "memcoord/guardrails.h"
#include "memcoord/hypervisor.h"
#include "memcoord/model.h"
#include "memcoord/policy.h"
#include "process_stats.h"

namespace memcoord::metrics_internal {

// Upper bounds of memcoord_tick_duration_seconds, seconds (+Inf implied).
// From 100 us: a simulated or small host ticks in well under a millisecond,
// and a tail that doubles must show up as a different bucket.
inline constexpr std::array<double, 16> kTickBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,     10};

// Reason values, for the per-guest action counters (Reason::kCeiling is the
// last one).
inline constexpr int kReasonCount = static_cast<int>(Reason::kCeiling) + 1;

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

// One guest's exported values at one tick. Absent statistics are nullopt and
// have no series.
struct GuestRow {
  int64_t actual_kib = 0;
  int64_t maximum_kib = 0;
  std::optional<int64_t> unused_kib;
  std::optional<int64_t> usable_kib;
  std::optional<int64_t> memtotal_kib;
  std::optional<int64_t> rss_kib;
  std::optional<int64_t> disk_caches_kib;
  int64_t target_kib = 0;
  std::optional<double> stats_time_s;
  // Settings in force: merged limits, and the balloon device's definition.
  std::string uuid;
  bool managed = true;
  int64_t floor_kib = 0;
  int64_t ceiling_kib = 0;
  int64_t shares = 0;
  BalloonDevice balloon;
  GuestClass guest_class = GuestClass::kUnknown;
  // Mirrored guest counters, already in exported units (bytes, faults).
  std::optional<double> swap_in_bytes;
  std::optional<double> swap_out_bytes;
  std::optional<double> major_faults;
  std::optional<double> minor_faults;
  // Action counts by [direction: 0 grow, 1 shrink][Reason]; a zero count has
  // no series.
  std::array<std::array<double, kReasonCount>, 2> actions{};
  // The same for actions planned in dry-run (never sent).
  std::array<std::array<double, kReasonCount>, 2> planned{};
  double grown_bytes = 0;
  double shrunk_bytes = 0;
  double errors = 0;
  // The last balloon command sent successfully (none in dry-run): the Clock
  // time of its tick, its direction (0 grow, 1 shrink) and its reason.
  struct LastAction {
    double time_s = 0;
    int direction = 0;
    Reason reason = Reason::kStarved;
  };
  std::optional<LastAction> last_action;
};

// Everything one scrape shows, for one tick. Immutable once built.
struct TickView {
  // Guest names sorted, shared between the views of ticks with the same set
  // of guests; rows[i] belongs to (*names)[i].
  std::shared_ptr<const std::vector<std::string>> names;
  std::vector<GuestRow> rows;
  double now_s = 0;  // report.time_s of the last tick (for stats_age)
  std::optional<HostSample> host;
  std::optional<PolicyParams> params;
  std::array<uint64_t, kTickBuckets.size()> tick_buckets{};  // per bucket
  uint64_t ticks = 0;
  double tick_seconds_sum = 0;
  std::optional<double> last_tick_end_s;
  double sample_errors = 0;
  ClampCounts clamps;
  std::optional<HypervisorHealth> health;
  bool dry_run = false;
  std::string version;
  std::string revision;
  std::string policy;
  bool config_reload_success = true;
  uint64_t reloads_applied = 0;
  uint64_t reloads_refused = 0;
  std::optional<metrics_internal::ProcessStats> process;
};

// The families of a view in a fixed order; per-guest series sorted by guest
// name.
std::vector<prometheus::MetricFamily> BuildFamilies(const TickView& view);

// The text exposition format (0.0.4) of BuildFamilies(view), serialised by
// prometheus-cpp's TextSerializer one family at a time, into `buffer`'s
// memory (its contents are dropped; pass the last text to reuse its
// capacity).
std::string RenderText(const TickView& view, std::string buffer = {});

class MetricsState {
 public:
  MetricsState();

  void Record(const TickReport& report, const HypervisorHealth& health);
  void SetBuildInfo(std::string version, std::string revision,
                    std::string policy);
  void SetConfigReloadSuccess(bool ok);
  // The daemon's own process figures, shown with the next view.
  void SetProcess(std::optional<metrics_internal::ProcessStats> process);

  // A self-contained copy of the current state.
  std::shared_ptr<const TickView> View() const;
  // The same into an existing view, reusing its memory (a view no reader
  // holds any more).
  void FillView(TickView* view) const;

  // BuildFamilies(*View()).
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  struct Guest {
    GuestRow row;
    MirroredCounter swap_in_kib;
    MirroredCounter swap_out_kib;
    MirroredCounter major_faults;
    MirroredCounter minor_faults;
    uint64_t seen_sample = 0;    // sample_seq_ of the last sample with it
    uint64_t target_sample = 0;  // sample_seq_ when an action set the target
  };
  using GuestMap = std::unordered_map<std::string, Guest>;

  void RecordSample(const TickReport& report);
  void RecordResults(const TickReport& report);
  void SortGuests();

  // Guests of the last good sample (kept across failed samples). Node-based,
  // so the pointers below stay valid until the guest is erased.
  GuestMap guests_;
  uint64_t sample_seq_ = 0;
  // The last sample's guests in their input order: a guest at the same
  // position as last time is found with one string comparison.
  std::vector<GuestMap::value_type*> input_order_;
  std::vector<GuestMap::value_type*> next_order_;  // scratch, kept for capacity
  // The guests sorted by name; rebuilt only when the set of guests changes.
  std::vector<GuestMap::value_type*> sorted_;
  std::shared_ptr<const std::vector<std::string>> sorted_names_;

  std::optional<HostSample> host_;
  std::optional<PolicyParams> params_;

  // Loop.
  double last_time_s_ = 0;
  std::optional<double> last_tick_end_s_;
  std::array<uint64_t, kTickBuckets.size()> cycle_buckets_{};
  uint64_t ticks_ = 0;
  double tick_seconds_sum_ = 0;
  double sample_errors_ = 0;
  ClampCounts clamps_;
  std::optional<HypervisorHealth> health_;
  bool dry_run_ = false;
  std::string version_;
  std::string revision_;
  std::string build_policy_;
  std::string report_policy_;
  bool config_reload_success_ = true;
  uint64_t reloads_applied_ = 0;
  uint64_t reloads_refused_ = 0;
  std::optional<metrics_internal::ProcessStats> process_;
};

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_METRICS_STATE_H_
