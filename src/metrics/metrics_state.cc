#include "metrics_state.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>

namespace memcoord::metrics_internal {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr double kBytesPerKib = 1024.0;

double Bytes(int64_t kib) { return static_cast<double>(kib) * kBytesPerKib; }

MetricFamily Family(const char* name, const char* help, MetricType type,
                    size_t reserve = 1) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  f.metric.reserve(reserve);
  return f;
}

ClientMetric& Add(MetricFamily& f, std::vector<ClientMetric::Label> labels) {
  ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  return m;
}

void AddGauge(MetricFamily& f, std::vector<ClientMetric::Label> labels,
              double value) {
  Add(f, std::move(labels)).gauge.value = value;
}

void AddCounter(MetricFamily& f, std::vector<ClientMetric::Label> labels,
                double value) {
  Add(f, std::move(labels)).counter.value = value;
}

// The actions counter's series come in label order (direction, then reason
// name), as a sorted map of label strings would give them.
std::array<int, kReasonCount> ReasonsByName() {
  std::array<int, kReasonCount> order;
  for (int i = 0; i < kReasonCount; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [](int a, int b) {
    return ReasonName(static_cast<Reason>(a)) <
           ReasonName(static_cast<Reason>(b));
  });
  return order;
}

// Calls `emit(family)` for each family of the view, in the exposition's
// order. One family at a time, so that a renderer can serialise and drop it
// before the next is built.
template <typename Emit>
void ForEachFamily(const TickView& v, Emit&& emit) {
  const std::vector<std::string>& names = *v.names;
  const size_t n = v.rows.size();

  if (v.host) {
    MetricFamily total = Family("memcoord_host_memory_total_bytes",
                                "Host memory (MemTotal).", MetricType::Gauge);
    AddGauge(total, {}, Bytes(v.host->total_kib));
    emit(total);
    MetricFamily free =
        Family("memcoord_host_memory_free_bytes", "Host free memory (MemFree).",
               MetricType::Gauge);
    AddGauge(free, {}, Bytes(v.host->free_kib));
    emit(free);
    MetricFamily avail =
        Family("memcoord_host_memory_available_bytes",
               "Host available memory (MemAvailable: free plus reclaimable).",
               MetricType::Gauge);
    AddGauge(avail, {}, Bytes(v.host->available_kib));
    emit(avail);
  }
  if (v.params) {
    MetricFamily th =
        Family("memcoord_threshold_bytes", "Thresholds in force, by name.",
               MetricType::Gauge, 4);
    AddGauge(th, {{"name", "starvation"}}, Bytes(v.params->starvation_kib));
    AddGauge(th, {{"name", "waste"}}, Bytes(v.params->waste_kib));
    AddGauge(th, {{"name", "guest_min_unused"}},
             Bytes(v.params->guest_min_unused_kib));
    AddGauge(th, {{"name", "host_min_free"}},
             Bytes(v.params->host_min_free_kib));
    emit(th);
    MetricFamily interval =
        Family("memcoord_interval_seconds",
               "Seconds between two ticks, as configured.", MetricType::Gauge);
    AddGauge(interval, {}, v.params->interval_s);
    emit(interval);
  }

  // Per guest gauges. A statistic the guest did not report has no series.
  struct GaugeSpec {
    const char* name;
    const char* help;
    std::optional<double> (*value)(const GuestRow&, double now_s);
  };
  static const GaugeSpec kGauges[] = {
      {"memcoord_domain_actual_bytes",
       "Memory the guest has now (balloon current).",
       [](const GuestRow& g, double) -> std::optional<double> {
         return Bytes(g.actual_kib);
       }},
      {"memcoord_domain_maximum_bytes",
       "Maximum memory of the guest (libvirt).",
       [](const GuestRow& g, double) -> std::optional<double> {
         return Bytes(g.maximum_kib);
       }},
      {"memcoord_domain_unused_bytes",
       "Memory the guest reports as free (MemFree).",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.unused_kib) return std::nullopt;
         return Bytes(*g.unused_kib);
       }},
      {"memcoord_domain_usable_bytes",
       "Memory the guest could use without swapping (MemAvailable).",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.usable_kib) return std::nullopt;
         return Bytes(*g.usable_kib);
       }},
      {"memcoord_domain_memtotal_bytes",
       "Memory the guest sees as its total (MemTotal).",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.memtotal_kib) return std::nullopt;
         return Bytes(*g.memtotal_kib);
       }},
      {"memcoord_domain_rss_bytes", "Host RSS of the guest's QEMU process.",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.rss_kib) return std::nullopt;
         return Bytes(*g.rss_kib);
       }},
      {"memcoord_domain_target_bytes",
       "Planned balloon target: this tick's action, else the last known "
       "target, else the current size. Set in dry-run too.",
       [](const GuestRow& g, double) -> std::optional<double> {
         return Bytes(g.target_kib);
       }},
      {"memcoord_domain_stats_age_seconds",
       "Age of the guest's balloon statistics at the last tick.",
       [](const GuestRow& g, double now_s) -> std::optional<double> {
         if (!g.stats_time_s) return std::nullopt;
         return std::max(0.0, now_s - *g.stats_time_s);
       }},
      {"memcoord_domain_stats_last_update_timestamp_seconds",
       "When the guest last reported balloon statistics (balloon.last-update).",
       [](const GuestRow& g, double) -> std::optional<double> {
         return g.stats_time_s;
       }},
      {"memcoord_domain_disk_caches_bytes",
       "Page cache the guest could drop (balloon.disk_caches).",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.disk_caches_kib) return std::nullopt;
         return Bytes(*g.disk_caches_kib);
       }},
      {"memcoord_domain_floor_bytes",
       "The floor no target goes below (per-domain min_mib, or 256 MiB).",
       [](const GuestRow& g, double) -> std::optional<double> {
         return Bytes(g.floor_kib);
       }},
      {"memcoord_domain_ceiling_bytes",
       "The ceiling no target goes above (libvirt maximum, or a lower "
       "per-domain max_mib).",
       [](const GuestRow& g, double) -> std::optional<double> {
         return Bytes(g.ceiling_kib);
       }},
      {"memcoord_domain_shares",
       "The guest's weight when memory is shared out.",
       [](const GuestRow& g, double) -> std::optional<double> {
         return static_cast<double>(g.shares);
       }},
      {"memcoord_domain_balloon_autodeflate",
       "1 when the balloon's autodeflate (deflate-on-oom) is on, 0 when off.",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.balloon.autodeflate) return std::nullopt;
         return *g.balloon.autodeflate ? 1 : 0;
       }},
      {"memcoord_domain_balloon_free_page_reporting",
       "1 when the balloon's free page reporting is on, 0 when off.",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.balloon.free_page_reporting) return std::nullopt;
         return *g.balloon.free_page_reporting ? 1 : 0;
       }},
      {"memcoord_domain_balloon_stats_period_seconds",
       "Seconds between two balloon statistics reports; 0: off.",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.balloon.stats_period_s) return std::nullopt;
         return static_cast<double>(*g.balloon.stats_period_s);
       }},
  };
  for (const GaugeSpec& spec : kGauges) {
    MetricFamily f = Family(spec.name, spec.help, MetricType::Gauge, n);
    for (size_t i = 0; i < n; ++i) {
      if (auto value = spec.value(v.rows[i], v.now_s)) {
        AddGauge(f, {{"domain", names[i]}}, *value);
      }
    }
    emit(f);
  }

  {
    MetricFamily f = Family("memcoord_domain_info",
                            "The guest's identity; always 1.",
                            MetricType::Gauge, n);
    for (size_t i = 0; i < n; ++i) {
      AddGauge(f,
               {{"domain", names[i]},
                {"managed", v.rows[i].managed ? "true" : "false"},
                {"uuid", v.rows[i].uuid}},
               1);
    }
    emit(f);
  }
  {
    MetricFamily f =
        Family("memcoord_domain_class",
               "1 for the guest's current class, 0 for the others.",
               MetricType::Gauge, n * 4);
    static constexpr GuestClass kClasses[] = {
        GuestClass::kStarved, GuestClass::kOk, GuestClass::kWasteful,
        GuestClass::kUnknown};
    for (size_t i = 0; i < n; ++i) {
      for (GuestClass c : kClasses) {
        AddGauge(
            f,
            {{"class", std::string(GuestClassName(c))}, {"domain", names[i]}},
            v.rows[i].guest_class == c ? 1 : 0);
      }
    }
    emit(f);
  }

  // Per guest counters, mirrored from the guest.
  struct CounterSpec {
    const char* name;
    const char* help;
    std::optional<double> GuestRow::*field;
  };
  static const CounterSpec kCounters[] = {
      {"memcoord_domain_swap_in_bytes_total",
       "Memory the guest swapped in (guest cumulative, kept monotonic across "
       "guest reboots).",
       &GuestRow::swap_in_bytes},
      {"memcoord_domain_swap_out_bytes_total",
       "Memory the guest swapped out (guest cumulative, kept monotonic across "
       "guest reboots).",
       &GuestRow::swap_out_bytes},
      {"memcoord_domain_major_faults_total",
       "Major page faults in the guest (guest cumulative, kept monotonic "
       "across guest reboots).",
       &GuestRow::major_faults},
      {"memcoord_domain_minor_faults_total",
       "Minor page faults in the guest (guest cumulative, kept monotonic "
       "across guest reboots).",
       &GuestRow::minor_faults},
  };
  for (const CounterSpec& spec : kCounters) {
    MetricFamily f = Family(spec.name, spec.help, MetricType::Counter, n);
    for (size_t i = 0; i < n; ++i) {
      const std::optional<double>& value = v.rows[i].*spec.field;
      if (value) AddCounter(f, {{"domain", names[i]}}, *value);
    }
    emit(f);
  }

  // Actions.
  {
    static const std::array<int, kReasonCount> kReasonOrder = ReasonsByName();
    static constexpr const char* kDirections[] = {"grow", "shrink"};
    MetricFamily actions =
        Family("memcoord_balloon_actions_total",
               "Balloon commands sent successfully.", MetricType::Counter, n);
    MetricFamily planned = Family(
        "memcoord_balloon_planned_actions_total",
        "Balloon commands planned in dry-run, and not sent.",
        MetricType::Counter);
    for (size_t i = 0; i < n; ++i) {
      for (int d = 0; d < 2; ++d) {
        for (int r : kReasonOrder) {
          const std::string reason(ReasonName(static_cast<Reason>(r)));
          for (auto [family, count] :
               {std::pair{&actions, v.rows[i].actions[d][r]},
                std::pair{&planned, v.rows[i].planned[d][r]}}) {
            if (count == 0) continue;
            AddCounter(*family,
                       {{"direction", kDirections[d]},
                        {"domain", names[i]},
                        {"reason", reason}},
                       count);
          }
        }
      }
    }
    emit(actions);
    emit(planned);
    MetricFamily moved = Family(
        "memcoord_balloon_moved_bytes_total",
        "Sum of balloon target changes sent successfully.",
        MetricType::Counter, n * 2);
    for (size_t i = 0; i < n; ++i) {
      AddCounter(moved, {{"direction", "grow"}, {"domain", names[i]}},
                 v.rows[i].grown_bytes);
      AddCounter(moved, {{"direction", "shrink"}, {"domain", names[i]}},
                 v.rows[i].shrunk_bytes);
    }
    emit(moved);
    MetricFamily errors =
        Family("memcoord_balloon_errors_total", "Balloon commands that failed.",
               MetricType::Counter, n);
    for (size_t i = 0; i < n; ++i) {
      AddCounter(errors, {{"domain", names[i]}}, v.rows[i].errors);
    }
    emit(errors);
    MetricFamily last = Family(
        "memcoord_domain_last_action_timestamp_seconds",
        "When the last balloon command sent to the guest was decided (the "
        "start of its tick), with its direction and reason.",
        MetricType::Gauge, n);
    for (size_t i = 0; i < n; ++i) {
      const auto& a = v.rows[i].last_action;
      if (!a) continue;
      AddGauge(last,
               {{"direction", kDirections[a->direction]},
                {"domain", names[i]},
                {"reason", std::string(ReasonName(a->reason))}},
               a->time_s);
    }
    emit(last);
  }
  {
    MetricFamily f =
        Family("memcoord_guardrail_clamps_total",
               "Actions lowered or dropped by a guardrail, by rule.",
               MetricType::Counter, kRuleCount);
    for (int r = 0; r < kRuleCount; ++r) {
      AddCounter(f, {{"rule", std::string(RuleName(static_cast<Rule>(r)))}},
                 static_cast<double>(v.clamps.by_rule[r]));
    }
    emit(f);
  }

  // Loop.
  {
    MetricFamily f =
        Family("memcoord_tick_duration_seconds",
               "Time one tick took.", MetricType::Histogram);
    ClientMetric& m = f.metric.emplace_back();
    m.histogram.bucket.reserve(kTickBuckets.size() + 1);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kTickBuckets.size(); ++i) {
      cumulative += v.tick_buckets[i];
      m.histogram.bucket.push_back({cumulative, kTickBuckets[i]});
    }
    m.histogram.bucket.push_back(
        {v.ticks, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = v.ticks;
    m.histogram.sample_sum = v.tick_seconds_sum;
    emit(f);
  }
  {
    MetricFamily f = Family("memcoord_ticks_total", "Ticks run.",
                            MetricType::Counter);
    AddCounter(f, {}, static_cast<double>(v.ticks));
    emit(f);
  }
  if (v.last_tick_end_s) {
    MetricFamily f =
        Family("memcoord_last_tick_timestamp_seconds",
               "Clock time when the last tick that sampled the hypervisor "
               "finished.",
               MetricType::Gauge);
    AddGauge(f, {}, *v.last_tick_end_s);
    emit(f);
  }
  {
    MetricFamily f = Family("memcoord_sample_errors_total",
                            "Ticks whose sample of the hypervisor failed.",
                            MetricType::Counter);
    AddCounter(f, {}, v.sample_errors);
    emit(f);
  }
  if (v.health) {
    MetricFamily up =
        Family("memcoord_libvirt_up",
               "1 while the hypervisor answers: connected, and the last "
               "tick's sample succeeded.",
               MetricType::Gauge);
    AddGauge(up, {}, v.health->up ? 1 : 0);
    emit(up);
    MetricFamily rc =
        Family("memcoord_libvirt_reconnects_total",
               "Successful reconnects to the hypervisor.", MetricType::Counter);
    AddCounter(rc, {}, static_cast<double>(v.health->reconnects));
    emit(rc);
    MetricFamily calls =
        Family("memcoord_libvirt_calls_total", "Hypervisor API calls, by call.",
               MetricType::Counter, v.health->calls.size());
    for (const auto& [call, count] : v.health->calls) {
      AddCounter(calls, {{"call", call}}, static_cast<double>(count));
    }
    emit(calls);
    MetricFamily durations =
        Family("memcoord_libvirt_call_duration_seconds",
               "Time hypervisor API calls took, by call (steady clock).",
               MetricType::Histogram, v.health->call_durations.size());
    for (const auto& [call, d] : v.health->call_durations) {
      ClientMetric& m = Add(durations, {{"call", call}});
      m.histogram.bucket.reserve(CallDurations::kBuckets.size() + 1);
      uint64_t cumulative = 0;
      for (size_t i = 0; i < CallDurations::kBuckets.size(); ++i) {
        cumulative += static_cast<uint64_t>(d.buckets[i]);
        m.histogram.bucket.push_back({cumulative, CallDurations::kBuckets[i]});
      }
      const auto count = static_cast<uint64_t>(d.count);
      m.histogram.bucket.push_back(
          {count, std::numeric_limits<double>::infinity()});
      m.histogram.sample_count = count;
      m.histogram.sample_sum = d.sum_s;
    }
    emit(durations);
  }
  {
    MetricFamily f =
        Family("memcoord_dry_run", "1 when actions are planned but not sent.",
               MetricType::Gauge);
    AddGauge(f, {}, v.dry_run ? 1 : 0);
    emit(f);
  }
  {
    MetricFamily f = Family("memcoord_build_info",
                            "Version and source revision; always 1.",
                            MetricType::Gauge);
    AddGauge(f, {{"revision", v.revision}, {"version", v.version}}, 1);
    emit(f);
    MetricFamily policy =
        Family("memcoord_policy_info",
               "The policy in force (it changes on reload); always 1.",
               MetricType::Gauge);
    AddGauge(policy, {{"policy", v.policy}}, 1);
    emit(policy);
  }
  {
    MetricFamily f = Family("memcoord_config_reload_success",
                            "1 if the last configuration load succeeded.",
                            MetricType::Gauge);
    AddGauge(f, {}, v.config_reload_success ? 1 : 0);
    emit(f);
  }
  {
    // Both results from the start, so that the first reload is an increase.
    MetricFamily f = Family("memcoord_config_reloads_total",
                            "Configuration reloads (SIGHUP), by result.",
                            MetricType::Counter);
    AddCounter(f, {{"result", "applied"}},
               static_cast<double>(v.reloads_applied));
    AddCounter(f, {{"result", "refused"}},
               static_cast<double>(v.reloads_refused));
    emit(f);
  }
  if (v.process) {
    // The names and meanings every Prometheus client library gives them.
    const metrics_internal::ProcessStats& p = *v.process;
    struct Spec {
      const char* name;
      const char* help;
      MetricType type;
      double value;
    };
    for (const Spec& s : {
             Spec{"process_cpu_seconds_total",
                  "Total user and system CPU time spent in seconds.",
                  MetricType::Counter, p.cpu_seconds},
             Spec{"process_open_fds", "Number of open file descriptors.",
                  MetricType::Gauge, p.open_fds},
             Spec{"process_resident_memory_bytes",
                  "Resident memory size in bytes.", MetricType::Gauge,
                  p.resident_bytes},
             Spec{"process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  MetricType::Gauge, p.start_time_s},
             Spec{"process_virtual_memory_bytes",
                  "Virtual memory size in bytes.", MetricType::Gauge,
                  p.virtual_bytes},
         }) {
      MetricFamily f = Family(s.name, s.help, s.type);
      if (s.type == MetricType::Counter) {
        AddCounter(f, {}, s.value);
      } else {
        AddGauge(f, {}, s.value);
      }
      emit(f);
    }
    if (p.max_fds) {
      MetricFamily f = Family("process_max_fds",
                              "Maximum number of open file descriptors.",
                              MetricType::Gauge);
      AddGauge(f, {}, *p.max_fds);
      emit(f);
    }
  }
}

}  // namespace

void MirroredCounter::Observe(int64_t raw) {
  if (raw < 0) return;  // not a counter value; keep what we have
  if (!last_raw_) {
    total_ = static_cast<double>(raw);
  } else if (raw >= *last_raw_) {
    total_ += static_cast<double>(raw - *last_raw_);
  } else {
    // The source restarted from zero (guest reboot): everything it counted
    // since is new.
    total_ += static_cast<double>(raw);
  }
  last_raw_ = raw;
}

std::vector<MetricFamily> BuildFamilies(const TickView& view) {
  std::vector<MetricFamily> out;
  out.reserve(40);
  ForEachFamily(view, [&out](MetricFamily& f) { out.push_back(std::move(f)); });
  return out;
}

std::string RenderText(const TickView& view, std::string buffer) {
  // One family at a time: the families of 1,000 guests hold ~20,000 label
  // vectors; building them all before serialising would keep every one of
  // them alive at once and walk memory twice.
  buffer.clear();
  // The stream writes into the string's whole capacity: a buffer as large
  // as the last tick's text spares growing a megabyte by doubling.
  std::ostringstream out(std::move(buffer));
  const prometheus::TextSerializer serializer;
  std::vector<MetricFamily> one(1);
  ForEachFamily(view, [&](MetricFamily& f) {
    one[0] = std::move(f);
    serializer.Serialize(out, one);
  });
  return std::move(out).str();
}

MetricsState::MetricsState()
    : sorted_names_(std::make_shared<const std::vector<std::string>>()) {}

void MetricsState::SetBuildInfo(std::string version, std::string revision,
                                std::string policy) {
  version_ = std::move(version);
  revision_ = std::move(revision);
  build_policy_ = std::move(policy);
}

void MetricsState::SetConfigReloadSuccess(bool ok) {
  config_reload_success_ = ok;
  ++(ok ? reloads_applied_ : reloads_refused_);
}

void MetricsState::SetProcess(
    std::optional<metrics_internal::ProcessStats> process) {
  process_ = process;
}

void MetricsState::Record(const TickReport& report,
                          const HypervisorHealth& health) {
  ++ticks_;
  tick_seconds_sum_ += report.duration_s;
  for (size_t i = 0; i < kTickBuckets.size(); ++i) {
    if (report.duration_s <= kTickBuckets[i]) {
      ++cycle_buckets_[i];
      break;
    }
  }
  last_time_s_ = report.time_s;
  health_ = health;
  dry_run_ = report.dry_run;
  if (!report.policy.empty()) report_policy_ = report.policy;
  params_ = report.params;
  for (int r = 0; r < kRuleCount; ++r) {
    clamps_.by_rule[r] += report.clamps.by_rule[r];
  }

  if (!report.sample_status.ok()) {
    // Nothing below the snapshot is meaningful; the guests are not known to
    // be gone, so their last values stay (stats_age tells how old they are).
    // The hypervisor did not answer, and the tick decided nothing: it is
    // not a tick for the last-tick timestamp.
    ++sample_errors_;
    health_->up = false;
    return;
  }
  last_tick_end_s_ = report.time_s + report.duration_s;
  RecordSample(report);
  RecordResults(report);
}

void MetricsState::RecordSample(const TickReport& report) {
  const Snapshot& snap = report.snapshot;
  host_ = snap.host;
  const uint64_t seq = ++sample_seq_;
  bool membership_changed = false;

  next_order_.clear();
  next_order_.reserve(snap.guests.size());
  size_t present = 0;
  for (const GuestSample& g : snap.guests) {
    // Guests usually come in the same order every tick: try the entry at
    // the same position before hashing the name.
    GuestMap::value_type* entry = nullptr;
    const size_t pos = next_order_.size();
    if (pos < input_order_.size() && input_order_[pos]->first == g.name) {
      entry = input_order_[pos];
    } else {
      auto [it, inserted] = guests_.try_emplace(g.name);
      entry = &*it;
      membership_changed |= inserted;
    }
    Guest& guest = entry->second;
    if (guest.seen_sample == seq) continue;  // duplicate name: first wins
    guest.seen_sample = seq;
    ++present;
    next_order_.push_back(entry);

    GuestRow& row = guest.row;
    row.actual_kib = g.actual_kib;
    row.maximum_kib = g.maximum_kib;
    row.unused_kib = g.unused_kib;
    row.usable_kib = g.usable_kib;
    row.memtotal_kib = g.memtotal_kib;
    row.rss_kib = g.rss_kib;
    row.disk_caches_kib = g.disk_caches_kib;
    row.stats_time_s = g.stats_time_s;
    if (row.uuid != g.uuid) row.uuid = g.uuid;
    row.managed = g.limits.managed;
    row.floor_kib = g.limits.floor_kib;
    row.ceiling_kib = g.ceiling_kib();
    row.shares = g.limits.shares;
    row.balloon = g.balloon;
    // The planned target (an action of this tick, below) is visible in
    // dry-run too, where nothing is set.
    row.target_kib = g.target_kib ? *g.target_kib : g.actual_kib;
    row.guest_class = GuestClass::kUnknown;
    if (g.swap_in_kib) guest.swap_in_kib.Observe(*g.swap_in_kib);
    if (g.swap_out_kib) guest.swap_out_kib.Observe(*g.swap_out_kib);
    if (g.major_faults) guest.major_faults.Observe(*g.major_faults);
    if (g.minor_faults) guest.minor_faults.Observe(*g.minor_faults);
    if (guest.swap_in_kib.seen()) {
      row.swap_in_bytes = guest.swap_in_kib.value() * kBytesPerKib;
    }
    if (guest.swap_out_kib.seen()) {
      row.swap_out_bytes = guest.swap_out_kib.value() * kBytesPerKib;
    }
    if (guest.major_faults.seen()) {
      row.major_faults = guest.major_faults.value();
    }
    if (guest.minor_faults.seen()) {
      row.minor_faults = guest.minor_faults.value();
    }
  }
  input_order_.swap(next_order_);

  // Series of guests that are gone go with them, counters included.
  if (present != guests_.size()) {
    std::erase_if(guests_, [seq](const GuestMap::value_type& e) {
      return e.second.seen_sample != seq;
    });
    membership_changed = true;
  }
  if (membership_changed) SortGuests();

  // The first action for a guest is its planned target.
  for (const Action& a : report.applied.actions) {
    auto it = guests_.find(a.domain);
    if (it == guests_.end() || it->second.target_sample == seq) continue;
    it->second.target_sample = seq;
    it->second.row.target_kib = a.target_kib;
  }

  // Both sides are sorted by name: a merge instead of a lookup per guest.
  auto cls = report.classes.begin();
  for (GuestMap::value_type* entry : sorted_) {
    int order = 0;
    while (cls != report.classes.end() &&
           (order = cls->first.compare(entry->first)) < 0) {
      ++cls;
    }
    if (cls == report.classes.end()) break;
    if (order == 0) entry->second.row.guest_class = cls->second;
  }
}

void MetricsState::SortGuests() {
  sorted_.clear();
  sorted_.reserve(guests_.size());
  for (GuestMap::value_type& e : guests_) sorted_.push_back(&e);
  std::sort(sorted_.begin(), sorted_.end(),
            [](const GuestMap::value_type* a, const GuestMap::value_type* b) {
              return a->first < b->first;
            });
  auto names = std::make_shared<std::vector<std::string>>();
  names->reserve(sorted_.size());
  for (const GuestMap::value_type* e : sorted_) names->push_back(e->first);
  sorted_names_ = std::move(names);
}

void MetricsState::RecordResults(const TickReport& report) {
  for (const ActionResult& r : report.results) {
    auto it = guests_.find(r.action.domain);
    if (it == guests_.end()) continue;  // not in this snapshot
    GuestRow& row = it->second.row;
    if (!r.status.ok()) {
      ++row.errors;
      continue;
    }
    const int64_t delta = r.action.delta_kib();
    if (delta == 0) continue;
    const int reason = static_cast<int>(r.action.reason);
    if (reason < 0 || reason >= kReasonCount) continue;
    // A dry-run action is planned, not done.
    if (!r.sent) {
      if (report.dry_run) row.planned[delta > 0 ? 0 : 1][reason] += 1;
      continue;
    }
    row.actions[delta > 0 ? 0 : 1][reason] += 1;
    row.last_action =
        GuestRow::LastAction{report.time_s, delta > 0 ? 0 : 1, r.action.reason};
    if (delta > 0) {
      row.grown_bytes += Bytes(delta);
    } else {
      row.shrunk_bytes += Bytes(-delta);
    }
  }
}

std::shared_ptr<const TickView> MetricsState::View() const {
  auto v = std::make_shared<TickView>();
  FillView(v.get());
  return v;
}

void MetricsState::FillView(TickView* v) const {
  v->names = sorted_names_;
  v->rows.resize(sorted_.size());
  for (size_t i = 0; i < sorted_.size(); ++i) {
    v->rows[i] = sorted_[i]->second.row;
  }
  v->now_s = last_time_s_;
  v->host = host_;
  v->params = params_;
  v->tick_buckets = cycle_buckets_;
  v->ticks = ticks_;
  v->tick_seconds_sum = tick_seconds_sum_;
  v->last_tick_end_s = last_tick_end_s_;
  v->sample_errors = sample_errors_;
  v->clamps = clamps_;
  v->health = health_;
  v->dry_run = dry_run_;
  v->version = version_;
  v->revision = revision_;
  v->policy = report_policy_.empty() ? build_policy_ : report_policy_;
  v->config_reload_success = config_reload_success_;
  v->reloads_applied = reloads_applied_;
  v->reloads_refused = reloads_refused_;
  v->process = process_;
}

std::vector<MetricFamily> MetricsState::Families() const {
  return BuildFamilies(*View());
}

}  // namespace memcoord::metrics_internal
