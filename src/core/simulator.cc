#include "memcoord/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "flow.h"

namespace memcoord {
namespace {

using internal::Flow;
using internal::kTimeEps;
constexpr double kBalloonHeadroomMib = kSimBalloonHeadroomMib;
constexpr double kWasteLineMib = kSimWasteLineMib;
// A workload keeps touching its swapped pages: each second this fraction of
// them (but at least kMinTouchMibS) faults back in. That gives a steady
// swap-in rate while anything is in swap, which is what the balloon stats of
// a thrashing guest show.
constexpr double kTouchFraction = 0.1;
constexpr double kMinTouchMibS = 4;
constexpr double kPagesPerMib = 256;  // 4 KiB pages

int64_t ToKib(double mib) { return std::llround(mib * kKibPerMib); }

// What the guest last told the hypervisor (refreshed once per second).
struct Report {
  int64_t unused_kib = 0;
  int64_t usable_kib = 0;
  int64_t memtotal_kib = 0;
  int64_t swap_in_kib = 0;
  int64_t swap_out_kib = 0;
  int64_t major_faults = 0;
  int64_t minor_faults = 0;
  int64_t disk_caches_kib = 0;
  double time_s = 0;
};

struct Guest {
  const ScenarioGuest* spec = nullptr;
  bool running = false;
  double actual_mib = 0;
  int64_t target_kib = 0;
  double anon_mib = 0;     // all anon memory of the workload
  double swapped_mib = 0;  // the part of anon_mib that is in swap
  double cache_mib = 0;
  Flow alloc;
  Flow free;
  Flow cache_fill;
  bool stats_on = true;
  std::optional<Report> report;
  // Cumulative counters since the guest started, as the guest reports them.
  double swap_in_kib = 0;
  double swap_out_kib = 0;
  double major_faults = 0;
  double minor_faults = 0;
  int64_t oom_kills = 0;
  bool swapped_in_this_step = false;

  double target_mib() const { return KibToMib(target_kib); }
  double resident_anon_mib() const { return anon_mib - swapped_mib; }
  double used_mib() const { return spec->base_used_mib + resident_anon_mib(); }
  double unused_mib() const {
    return std::max(0.0, actual_mib - used_mib() - cache_mib);
  }
  double usable_mib() const { return unused_mib() + cache_mib; }

  void Boot() {
    const ScenarioGuest* s = spec;
    int64_t kills = oom_kills;
    *this = Guest();
    spec = s;
    oom_kills = kills;
    running = true;
    actual_mib = s->start_mib;
    target_kib = ToKib(s->start_mib);
    stats_on = s->stats;
  }
};

struct Event {
  double at_s = 0;
  size_t guest = 0;
  WorkloadOp op;
};

// Observes the steady-clock time from its construction to its destruction.
class CallTimer {
 public:
  explicit CallTimer(CallDurations* durations)
      : durations_(durations), start_(std::chrono::steady_clock::now()) {}
  ~CallTimer() {
    durations_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count());
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;

 private:
  CallDurations* durations_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

struct SimHypervisor::Impl {
  Scenario scenario;
  const Clock* clock = nullptr;
  double start_s = 0;
  double step_s = kDefaultStepS;
  int64_t steps = 0;
  int64_t last_refresh_second = -1;
  std::vector<Guest> guests;
  std::vector<Event> events;
  size_t next_event = 0;
  SimFaults faults;

  int64_t sample_calls = 0;
  int64_t set_calls = 0;
  // Wall time of those calls (steady clock), for Health().
  CallDurations sample_durations;
  CallDurations set_durations;

  int64_t oom_kills = 0;
  int64_t actions = 0;
  double moved_mib = 0;
  double pressure_s = 0;
  double host_low_s = 0;
  double waste_integral = 0;
  double host_free_integral = 0;
  double elapsed_s = 0;

  double Now() const { return static_cast<double>(steps) * step_s; }

  // Guest names are unique (ValidateScenario); the index is built once by
  // Init() so that SetTarget() does not scan every guest.
  std::unordered_map<std::string_view, size_t> by_name;

  Guest* FindRunning(const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return nullptr;
    Guest& g = guests[it->second];
    return g.running ? &g : nullptr;
  }

  double HostFreeMib() const {
    double free = scenario.host_total_mib - scenario.host_used_mib;
    for (const Guest& g : guests) {
      if (g.running) free -= g.actual_mib;
    }
    return free;
  }

  void Init() {
    guests.resize(scenario.guests.size());
    for (size_t i = 0; i < scenario.guests.size(); ++i) {
      const ScenarioGuest& spec = scenario.guests[i];
      guests[i].spec = &spec;
      by_name.emplace(spec.name, i);
      if (!internal::StartsAbsent(spec)) guests[i].Boot();
      if (spec.at_s && *spec.at_s > kTimeEps) {
        WorkloadOp start;
        start.kind = WorkloadOp::Kind::kStart;
        start.at_s = *spec.at_s;
        events.push_back({*spec.at_s, i, start});
      }
      for (const WorkloadOp& op : spec.workload) {
        events.push_back({op.at_s, i, op});
      }
    }
    // Same-time events keep scenario order: guests in file order, the
    // guest's own start before its ops.
    std::stable_sort(
        events.begin(), events.end(),
        [](const Event& a, const Event& b) { return a.at_s < b.at_s; });
    FireEvents();
    Refresh(0);
    last_refresh_second = 0;
  }

  void FireEvents() {
    const double now = Now();
    while (next_event < events.size() &&
           events[next_event].at_s <= now + kTimeEps) {
      Apply(guests[events[next_event].guest], events[next_event].op);
      ++next_event;
    }
  }

  void Apply(Guest& g, const WorkloadOp& op) {
    using K = WorkloadOp::Kind;
    if (op.kind == K::kStart) {
      if (!g.running) g.Boot();
      return;
    }
    // Ops addressed to a guest that does not exist have nothing to act on.
    if (!g.running) return;
    switch (op.kind) {
      case K::kAlloc:
        if (op.rate_mib_s > 0) {
          g.alloc.Add(op.mib, op.rate_mib_s);
        } else {
          Allocate(g, op.mib);
        }
        break;
      case K::kFree:
        if (op.rate_mib_s > 0) {
          g.free.Add(op.mib, op.rate_mib_s);
        } else {
          Free(g, op.mib);
        }
        break;
      case K::kFreeAll:
        g.anon_mib = 0;
        g.swapped_mib = 0;
        g.alloc.Clear();
        g.free.Clear();
        break;
      case K::kCache:
        if (op.rate_mib_s > 0) {
          g.cache_fill.Add(op.mib, op.rate_mib_s);
        } else {
          FillCache(g, op.mib);
        }
        break;
      case K::kDropCache:
        g.cache_mib = 0;
        g.cache_fill.Clear();
        break;
      case K::kStats:
        // A guest whose stats were just switched on has not reported yet.
        if (g.stats_on != op.on) g.report.reset();
        g.stats_on = op.on;
        break;
      case K::kDestroy:
        g.running = false;
        break;
      case K::kStart:
        break;
    }
  }

  void OomKill(Guest& g) {
    g.anon_mib = 0;
    g.swapped_mib = 0;
    g.alloc.Clear();
    g.free.Clear();
    ++g.oom_kills;
    ++oom_kills;
  }

  // Free memory first, then page cache, then swap; the kernel OOM-kills the
  // workload when none of them can cover the request.
  void Allocate(Guest& g, double mib) {
    if (mib <= 0) return;
    g.minor_faults += mib * kPagesPerMib;
    double shortfall = mib - g.unused_mib();
    if (shortfall > 0) {
      double evict = std::min(g.cache_mib, shortfall);
      g.cache_mib -= evict;
      shortfall -= evict;
    }
    if (shortfall <= kTimeEps) {
      g.anon_mib += mib;
      return;
    }
    if (g.spec->swap_mib - g.swapped_mib >= shortfall) {
      g.anon_mib += mib;
      g.swapped_mib += shortfall;
      g.swap_out_kib += shortfall * kKibPerMib;
      return;
    }
    OomKill(g);
  }

  void Free(Guest& g, double mib) {
    if (g.anon_mib <= 0) return;
    double amount = std::min(mib, g.anon_mib);
    // Freed pages come from resident and swapped memory alike.
    g.swapped_mib -= amount * g.swapped_mib / g.anon_mib;
    g.anon_mib -= amount;
    if (g.anon_mib <= kTimeEps) {
      g.anon_mib = 0;
      g.swapped_mib = 0;
    }
    g.swapped_mib = std::max(0.0, g.swapped_mib);
  }

  // Page cache only grows into free memory; it never pushes anything out.
  void FillCache(Guest& g, double mib) {
    g.cache_mib += std::min(mib, g.unused_mib());
  }

  void MoveBalloon(Guest& g, double dt) {
    const double target = g.target_mib();
    const double step = g.spec->balloon_rate_mib_s * dt;
    if (target > g.actual_mib) {
      g.actual_mib += std::min(step, target - g.actual_mib);
      return;
    }
    if (target < g.actual_mib) {
      const double floor = g.used_mib() + kBalloonHeadroomMib;
      double d = std::min({step, g.actual_mib - target, g.actual_mib - floor});
      if (d <= 0) return;
      g.actual_mib -= d;
      // Free pages go first; what is left comes out of the page cache.
      double room = g.actual_mib - g.used_mib();
      if (g.cache_mib > room) g.cache_mib = std::max(0.0, room);
    }
  }

  // Swapped pages the workload touches fault back in. Into free memory or
  // page cache when there is any; otherwise each page read in pushes another
  // one out (thrashing), so swapped stays where it is.
  void TouchSwapped(Guest& g, double dt) {
    if (g.swapped_mib <= 0) return;
    double t =
        std::min(g.swapped_mib,
                 std::max(kTouchFraction * g.swapped_mib, kMinTouchMibS) * dt);
    double unused = g.unused_mib();
    double in_place = std::min(t, unused + g.cache_mib);
    double from_cache = std::max(0.0, in_place - unused);
    g.cache_mib -= from_cache;
    g.swapped_mib -= in_place;
    if (g.swapped_mib < kTimeEps) g.swapped_mib = 0;
    g.swap_out_kib += (t - in_place) * kKibPerMib;
    g.swap_in_kib += t * kKibPerMib;
    g.major_faults += t * kPagesPerMib;
    g.swapped_in_this_step = true;
  }

  void StepGuest(Guest& g, double dt) {
    g.swapped_in_this_step = false;
    MoveBalloon(g, dt);
    Free(g, g.free.Take(dt));
    double a = g.alloc.Take(dt);
    if (a > 0) Allocate(g, a);
    double c = g.cache_fill.Take(dt);
    if (c > 0) FillCache(g, c);
    TouchSwapped(g, dt);
  }

  void Refresh(int64_t second) {
    for (Guest& g : guests) {
      if (!g.running || !g.stats_on) continue;
      if (faults.stale.count(g.spec->name)) continue;
      Report r;
      r.unused_kib = ToKib(g.unused_mib());
      r.usable_kib = ToKib(g.usable_mib());
      r.memtotal_kib = ToKib(g.spec->autodeflate ? g.spec->max_mib : g.actual_mib);
      r.swap_in_kib = std::llround(g.swap_in_kib);
      r.swap_out_kib = std::llround(g.swap_out_kib);
      r.major_faults = std::llround(g.major_faults);
      r.minor_faults = std::llround(g.minor_faults);
      r.disk_caches_kib = ToKib(g.cache_mib);
      r.time_s = start_s + static_cast<double>(second);
      g.report = r;
    }
  }

  // Scores are a left Riemann sum: each step is charged with the state at its
  // start, so an event at t counts from t on, and with whether the guest had
  // to swap in during the step.
  void Step() {
    const double dt = step_s;
    const double free = HostFreeMib();
    if (free < scenario.host_min_free_mib) host_low_s += dt;
    host_free_integral += free * dt;
    elapsed_s += dt;
    for (Guest& g : guests) {
      if (!g.running) continue;
      double line = SimPressureLineMib(g.actual_mib);
      bool pressured = g.usable_mib() < line;
      waste_integral += std::max(0.0, g.unused_mib() - kWasteLineMib) * dt;
      StepGuest(g, dt);
      if (pressured || g.swapped_in_this_step) pressure_s += dt;
    }
    ++steps;
    FireEvents();
    int64_t second = static_cast<int64_t>(std::floor(Now() + kTimeEps));
    if (second > last_refresh_second) {
      Refresh(second);
      last_refresh_second = second;
    }
  }

  void AdvanceTo(double t) {
    while (static_cast<double>(steps + 1) * step_s <= t + kTimeEps) Step();
  }

  double WasteNowMib() const {
    double sum = 0;
    for (const Guest& g : guests) {
      if (g.running) sum += std::max(0.0, g.unused_mib() - kWasteLineMib);
    }
    return sum;
  }

  SimGuestState State(const Guest& g) const {
    SimGuestState s;
    s.name = g.spec->name;
    s.running = g.running;
    s.actual_mib = g.actual_mib;
    s.target_mib = g.target_mib();
    s.max_mib = g.spec->max_mib;
    s.anon_mib = g.anon_mib;
    s.cache_mib = g.cache_mib;
    s.base_used_mib = g.spec->base_used_mib;
    s.swapped_mib = g.swapped_mib;
    s.unused_mib = g.unused_mib();
    s.usable_mib = g.usable_mib();
    s.oom_kills = g.oom_kills;
    s.stats = g.stats_on;
    return s;
  }
};

SimHypervisor::SimHypervisor(Scenario scenario, const Clock* clock,
                             double start_s, double step_s)
    : impl_(std::make_unique<Impl>()) {
  impl_->scenario = std::move(scenario);
  impl_->clock = clock;
  impl_->start_s = start_s;
  impl_->step_s = step_s > 0 ? step_s : kDefaultStepS;
  impl_->Init();
}

SimHypervisor::~SimHypervisor() = default;

Result<Snapshot> SimHypervisor::Sample() {
  Impl& m = *impl_;
  ++m.sample_calls;
  const CallTimer timer(&m.sample_durations);
  const double now = m.clock->NowSeconds();
  m.AdvanceTo(now - m.start_s);
  if (m.faults.sample_fails) {
    return Status::Unavailable("simulated hypervisor connection is down");
  }
  Snapshot snap;
  snap.time_s = now;
  snap.host.total_kib = ToKib(m.scenario.host_total_mib);
  snap.host.free_kib = ToKib(m.HostFreeMib());
  snap.host.available_kib = snap.host.free_kib;
  for (const Guest& g : m.guests) {
    if (!g.running) continue;
    GuestSample s;
    s.name = g.spec->name;
    s.actual_kib = ToKib(g.actual_mib);
    s.maximum_kib = ToKib(g.spec->max_mib);
    s.rss_kib = ToKib(g.used_mib() + g.cache_mib);
    s.target_kib = g.target_kib;
    if (g.stats_on && g.report) {
      const Report& r = *g.report;
      s.unused_kib = r.unused_kib;
      s.usable_kib = r.usable_kib;
      s.memtotal_kib = r.memtotal_kib;
      s.swap_in_kib = r.swap_in_kib;
      s.swap_out_kib = r.swap_out_kib;
      s.major_faults = r.major_faults;
      s.minor_faults = r.minor_faults;
      s.disk_caches_kib = r.disk_caches_kib;
      s.stats_time_s = r.time_s;
    }
    s.metadata.min_mib = g.spec->min_mib;
    s.metadata.shares = g.spec->shares;
    s.balloon.autodeflate = g.spec->autodeflate;
    // Reports come once a second while the guest's stats are on.
    s.balloon.stats_period_s = g.stats_on ? 1 : 0;
    snap.guests.push_back(std::move(s));
  }
  return snap;
}

Status SimHypervisor::SetTarget(const std::string& domain, int64_t target_kib) {
  Impl& m = *impl_;
  ++m.set_calls;
  const CallTimer timer(&m.set_durations);
  m.AdvanceTo(m.clock->NowSeconds() - m.start_s);
  Guest* g = m.FindRunning(domain);
  if (g == nullptr) {
    return Status::NotFound("domain '" + domain + "' is not running");
  }
  if (m.faults.set_fails.count(domain)) {
    return Status::Unavailable("setting memory of domain '" + domain +
                               "' failed (injected fault)");
  }
  if (m.faults.vanish_on_set.count(domain)) {
    g->running = false;
    return Status::NotFound("domain '" + domain + "' vanished");
  }
  const int64_t max_kib = ToKib(g->spec->max_mib);
  if (target_kib < 0 || target_kib > max_kib) {
    return Status::InvalidArgument(
        "domain '" + domain + "': target " + std::to_string(target_kib) +
        " KiB is outside [0, " + std::to_string(max_kib) + "] KiB");
  }
  m.moved_mib += KibToMib(std::llabs(target_kib - g->target_kib));
  ++m.actions;
  g->target_kib = target_kib;
  return Status::Ok();
}

HypervisorHealth SimHypervisor::Health() const {
  HypervisorHealth h;
  h.up = !impl_->faults.sample_fails;
  h.calls["sample"] = impl_->sample_calls;
  h.calls["set_target"] = impl_->set_calls;
  h.call_durations["sample"] = impl_->sample_durations;
  h.call_durations["set_target"] = impl_->set_durations;
  return h;
}

void SimHypervisor::AdvanceTo(double scenario_s) {
  impl_->AdvanceTo(scenario_s);
}

double SimHypervisor::scenario_time_s() const { return impl_->Now(); }

const Scenario& SimHypervisor::scenario() const { return impl_->scenario; }

Scores SimHypervisor::scores() const {
  const Impl& m = *impl_;
  Scores s;
  s.oom_kills = m.oom_kills;
  s.pressure_s = m.pressure_s;
  s.host_low_s = m.host_low_s;
  if (m.elapsed_s > 0) {
    s.waste_mib = m.waste_integral / m.elapsed_s;
    s.host_free_mib = m.host_free_integral / m.elapsed_s;
  } else {
    // No time has passed: the mean over an instant is the value now.
    s.waste_mib = m.WasteNowMib();
    s.host_free_mib = m.HostFreeMib();
  }
  s.actions = m.actions;
  s.moved_mib = m.moved_mib;
  return s;
}

std::vector<SimGuestState> SimHypervisor::guests() const {
  std::vector<SimGuestState> out;
  out.reserve(impl_->guests.size());
  for (const Guest& g : impl_->guests) out.push_back(impl_->State(g));
  return out;
}

std::optional<SimGuestState> SimHypervisor::guest(
    const std::string& name) const {
  for (const Guest& g : impl_->guests) {
    if (g.spec->name == name) return impl_->State(g);
  }
  return std::nullopt;
}

double SimHypervisor::host_free_mib() const { return impl_->HostFreeMib(); }

SimFaults& SimHypervisor::faults() { return impl_->faults; }

}  // namespace memcoord
