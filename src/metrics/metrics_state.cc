#include "metrics_state.h"

#include <algorithm>
#include <limits>
#include <set>

#include "memcoord/guardrails.h"

namespace memcoord::metrics_internal {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr double kBytesPerKib = 1024.0;

double Bytes(int64_t kib) { return static_cast<double>(kib) * kBytesPerKib; }

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddGauge(MetricFamily& f, std::vector<ClientMetric::Label> labels,
              double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void AddCounter(MetricFamily& f, std::vector<ClientMetric::Label> labels,
                double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f.metric.push_back(std::move(m));
}

std::vector<ClientMetric::Label> DomainLabel(const std::string& name) {
  return {{"domain", name}};
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

MetricsState::MetricsState() = default;

void MetricsState::SetBuildInfo(std::string version, std::string policy) {
  version_ = std::move(version);
  build_policy_ = std::move(policy);
}

void MetricsState::SetConfigReloadSuccess(bool ok) {
  config_reload_success_ = ok;
}

void MetricsState::Record(const TickReport& report,
                          const HypervisorHealth& health) {
  ++cycles_;
  cycle_seconds_sum_ += report.duration_s;
  for (size_t i = 0; i < kCycleBuckets.size(); ++i) {
    if (report.duration_s <= kCycleBuckets[i]) {
      ++cycle_buckets_[i];
      break;
    }
  }
  last_time_s_ = report.time_s;
  last_cycle_end_s_ = report.time_s + report.duration_s;
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
    ++sample_errors_;
    return;
  }
  RecordSample(report);
  RecordResults(report);
}

void MetricsState::RecordSample(const TickReport& report) {
  const Snapshot& snap = report.snapshot;
  host_ = snap.host;

  std::vector<GuestRow> rows;
  rows.reserve(snap.guests.size());
  std::set<std::string> present;
  for (const GuestSample& g : snap.guests) {
    if (!present.insert(g.name).second) continue;  // duplicate name: first wins
    GuestRow row;
    row.name = g.name;
    row.actual_kib = g.actual_kib;
    row.maximum_kib = g.maximum_kib;
    row.unused_kib = g.unused_kib;
    row.usable_kib = g.usable_kib;
    row.available_kib = g.available_kib;
    row.rss_kib = g.rss_kib;
    row.stats_time_s = g.stats_time_s;
    // The planned target: visible in dry-run too, where nothing is set.
    if (const Action* a = report.applied.Find(g.name)) {
      row.target_kib = a->target_kib;
    } else if (g.target_kib) {
      row.target_kib = *g.target_kib;
    } else {
      row.target_kib = g.actual_kib;
    }
    auto cls = report.classes.find(g.name);
    row.guest_class =
        cls == report.classes.end() ? GuestClass::kUnknown : cls->second;
    rows.push_back(std::move(row));

    DomainCounters& c = domains_[g.name];
    if (g.swap_in_kib) c.swap_in_kib.Observe(*g.swap_in_kib);
    if (g.swap_out_kib) c.swap_out_kib.Observe(*g.swap_out_kib);
    if (g.major_faults) c.major_faults.Observe(*g.major_faults);
  }
  std::sort(rows.begin(), rows.end(), [](const GuestRow& a, const GuestRow& b) {
    return a.name < b.name;
  });
  guests_ = std::move(rows);

  // Series of guests that are gone go with them, counters included.
  for (auto it = domains_.begin(); it != domains_.end();) {
    if (present.count(it->first) == 0) {
      it = domains_.erase(it);
    } else {
      ++it;
    }
  }
}

void MetricsState::RecordResults(const TickReport& report) {
  for (const ActionResult& r : report.results) {
    auto it = domains_.find(r.action.domain);
    if (it == domains_.end()) continue;  // not in this snapshot
    DomainCounters& c = it->second;
    if (!r.status.ok()) {
      ++c.errors;
      continue;
    }
    // A dry-run action counts as done: it is what would have been done.
    if (!r.sent && !report.dry_run) continue;
    const int64_t delta = r.action.delta_kib();
    if (delta == 0) continue;
    const std::string direction = delta > 0 ? "grow" : "shrink";
    c.actions[{direction, std::string(ReasonName(r.action.reason))}] += 1;
    if (delta > 0) {
      c.grown_bytes += Bytes(delta);
    } else {
      c.shrunk_bytes += Bytes(-delta);
    }
  }
}

std::vector<MetricFamily> MetricsState::Families() const {
  std::vector<MetricFamily> out;
  out.reserve(40);

  // Host and thresholds.
  if (host_) {
    MetricFamily total = Family("memcoord_host_memory_total_bytes",
                                "Host memory (MemTotal).", MetricType::Gauge);
    AddGauge(total, {}, Bytes(host_->total_kib));
    out.push_back(std::move(total));
    MetricFamily free =
        Family("memcoord_host_memory_free_bytes", "Host free memory (MemFree).",
               MetricType::Gauge);
    AddGauge(free, {}, Bytes(host_->free_kib));
    out.push_back(std::move(free));
    MetricFamily avail =
        Family("memcoord_host_memory_available_bytes",
               "Host available memory (MemAvailable: free plus reclaimable).",
               MetricType::Gauge);
    AddGauge(avail, {}, Bytes(host_->available_kib));
    out.push_back(std::move(avail));
  }
  if (params_) {
    MetricFamily th =
        Family("memcoord_threshold_bytes", "Thresholds in force, by name.",
               MetricType::Gauge);
    AddGauge(th, {{"name", "starvation"}}, Bytes(params_->starvation_kib));
    AddGauge(th, {{"name", "waste"}}, Bytes(params_->waste_kib));
    AddGauge(th, {{"name", "guest_min_unused"}},
             Bytes(params_->guest_min_unused_kib));
    AddGauge(th, {{"name", "host_min_free"}},
             Bytes(params_->host_min_free_kib));
    out.push_back(std::move(th));
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
      {"memcoord_domain_available_bytes",
       "Memory the guest sees as its total (MemTotal).",
       [](const GuestRow& g, double) -> std::optional<double> {
         if (!g.available_kib) return std::nullopt;
         return Bytes(*g.available_kib);
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
  };
  for (const GaugeSpec& spec : kGauges) {
    MetricFamily f = Family(spec.name, spec.help, MetricType::Gauge);
    f.metric.reserve(guests_.size());
    for (const GuestRow& g : guests_) {
      if (auto v = spec.value(g, last_time_s_)) {
        AddGauge(f, DomainLabel(g.name), *v);
      }
    }
    out.push_back(std::move(f));
  }

  {
    MetricFamily f =
        Family("memcoord_domain_class",
               "1 for the guest's current class, 0 for the others.",
               MetricType::Gauge);
    static constexpr GuestClass kClasses[] = {
        GuestClass::kStarved, GuestClass::kOk, GuestClass::kWasteful,
        GuestClass::kUnknown};
    f.metric.reserve(guests_.size() * 4);
    for (const GuestRow& g : guests_) {
      for (GuestClass c : kClasses) {
        AddGauge(
            f, {{"class", std::string(GuestClassName(c))}, {"domain", g.name}},
            g.guest_class == c ? 1 : 0);
      }
    }
    out.push_back(std::move(f));
  }

  // Per guest counters, mirrored from the guest.
  struct CounterSpec {
    const char* name;
    const char* help;
    const MirroredCounter DomainCounters::*field;
    double scale;
  };
  static const CounterSpec kCounters[] = {
      {"memcoord_domain_swap_in_bytes_total",
       "Memory the guest swapped in (guest cumulative, kept monotonic across "
       "guest reboots).",
       &DomainCounters::swap_in_kib, kBytesPerKib},
      {"memcoord_domain_swap_out_bytes_total",
       "Memory the guest swapped out (guest cumulative, kept monotonic across "
       "guest reboots).",
       &DomainCounters::swap_out_kib, kBytesPerKib},
      {"memcoord_domain_major_faults_total",
       "Major page faults in the guest (guest cumulative, kept monotonic "
       "across guest reboots).",
       &DomainCounters::major_faults, 1.0},
  };
  for (const CounterSpec& spec : kCounters) {
    MetricFamily f = Family(spec.name, spec.help, MetricType::Counter);
    for (const GuestRow& g : guests_) {
      auto it = domains_.find(g.name);
      if (it == domains_.end()) continue;
      const MirroredCounter& c = it->second.*spec.field;
      if (c.seen()) AddCounter(f, DomainLabel(g.name), c.value() * spec.scale);
    }
    out.push_back(std::move(f));
  }

  // Actions.
  {
    MetricFamily actions =
        Family("memcoord_balloon_actions_total",
               "Balloon commands sent successfully (planned ones in dry-run).",
               MetricType::Counter);
    MetricFamily moved = Family(
        "memcoord_balloon_moved_bytes_total",
        "Sum of balloon target changes sent successfully (planned in dry-run).",
        MetricType::Counter);
    MetricFamily errors =
        Family("memcoord_balloon_errors_total", "Balloon commands that failed.",
               MetricType::Counter);
    for (const GuestRow& g : guests_) {
      auto it = domains_.find(g.name);
      if (it == domains_.end()) continue;
      const DomainCounters& c = it->second;
      for (const auto& [key, count] : c.actions) {
        AddCounter(actions,
                   {{"direction", key.first},
                    {"domain", g.name},
                    {"reason", key.second}},
                   count);
      }
      AddCounter(moved, {{"direction", "grow"}, {"domain", g.name}},
                 c.grown_bytes);
      AddCounter(moved, {{"direction", "shrink"}, {"domain", g.name}},
                 c.shrunk_bytes);
      AddCounter(errors, DomainLabel(g.name), c.errors);
    }
    out.push_back(std::move(actions));
    out.push_back(std::move(moved));
    out.push_back(std::move(errors));
  }
  {
    MetricFamily f =
        Family("memcoord_guardrail_clamps_total",
               "Actions lowered or dropped by a guardrail, by rule.",
               MetricType::Counter);
    for (int r = 0; r < kRuleCount; ++r) {
      AddCounter(f, {{"rule", std::string(RuleName(static_cast<Rule>(r)))}},
                 static_cast<double>(clamps_.by_rule[r]));
    }
    out.push_back(std::move(f));
  }

  // Loop.
  {
    MetricFamily f =
        Family("memcoord_cycle_duration_seconds",
               "Time one control cycle took.", MetricType::Histogram);
    ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kCycleBuckets.size(); ++i) {
      cumulative += cycle_buckets_[i];
      m.histogram.bucket.push_back({cumulative, kCycleBuckets[i]});
    }
    m.histogram.bucket.push_back(
        {cycles_, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cycles_;
    m.histogram.sample_sum = cycle_seconds_sum_;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  {
    MetricFamily f = Family("memcoord_cycles_total", "Control cycles run.",
                            MetricType::Counter);
    AddCounter(f, {}, static_cast<double>(cycles_));
    out.push_back(std::move(f));
  }
  if (last_cycle_end_s_) {
    MetricFamily f =
        Family("memcoord_last_cycle_timestamp_seconds",
               "Clock time when the last cycle finished.", MetricType::Gauge);
    AddGauge(f, {}, *last_cycle_end_s_);
    out.push_back(std::move(f));
  }
  {
    MetricFamily f = Family("memcoord_sample_errors_total",
                            "Cycles whose sample of the hypervisor failed.",
                            MetricType::Counter);
    AddCounter(f, {}, sample_errors_);
    out.push_back(std::move(f));
  }
  if (health_) {
    MetricFamily up =
        Family("memcoord_libvirt_up", "1 while connected to the hypervisor.",
               MetricType::Gauge);
    AddGauge(up, {}, health_->up ? 1 : 0);
    out.push_back(std::move(up));
    MetricFamily rc =
        Family("memcoord_libvirt_reconnects_total",
               "Successful reconnects to the hypervisor.", MetricType::Counter);
    AddCounter(rc, {}, static_cast<double>(health_->reconnects));
    out.push_back(std::move(rc));
    MetricFamily calls =
        Family("memcoord_libvirt_calls_total", "Hypervisor API calls, by call.",
               MetricType::Counter);
    for (const auto& [call, n] : health_->calls) {
      AddCounter(calls, {{"call", call}}, static_cast<double>(n));
    }
    out.push_back(std::move(calls));
  }
  {
    MetricFamily f =
        Family("memcoord_dry_run", "1 when actions are planned but not sent.",
               MetricType::Gauge);
    AddGauge(f, {}, dry_run_ ? 1 : 0);
    out.push_back(std::move(f));
  }
  {
    MetricFamily f =
        Family("memcoord_build_info", "Version and active policy; always 1.",
               MetricType::Gauge);
    const std::string& policy =
        report_policy_.empty() ? build_policy_ : report_policy_;
    AddGauge(f, {{"policy", policy}, {"version", version_}}, 1);
    out.push_back(std::move(f));
  }
  {
    MetricFamily f = Family("memcoord_config_reload_success",
                            "1 if the last configuration load succeeded.",
                            MetricType::Gauge);
    AddGauge(f, {}, config_reload_success_ ? 1 : 0);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace memcoord::metrics_internal
