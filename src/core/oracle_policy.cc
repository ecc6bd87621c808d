#include "memcoord/oracle_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "memcoord/simulator.h"
#include "memcoord/workload.h"

namespace memcoord {
namespace {

// Room kept above the pressure line (and above G1's minimum on shrinks) for
// the rounding of the balloon's steps and of the stats.
constexpr double kSlackMib = 16;
// How far ahead a growing guest is given memory in one command, and how far
// ahead a shrink must stay clear of demand: fewer commands for a little more
// memory held.
constexpr double kLookAheadS = 30;
// A grow may leave this much unused memory above the waste line while the
// demand catches up with it.
constexpr double kChunkOverWasteMib = 64;
// A grow covers demand for this many decisions beyond the one it must cover.
constexpr double kGrowTicks = 2;
// Changes smaller than this are not worth a command unless the guest needs it.
constexpr double kMinStepMib = 32;
// Ticks a release takes (G3 halves unused at most each tick) plus spare: how
// far ahead host capacity is planned.
constexpr double kReleaseTicks = 4;

int64_t CeilKib(double mib) {
  return static_cast<int64_t>(std::ceil(mib * kKibPerMib));
}

class OraclePolicy : public Policy {
 public:
  OraclePolicy(const Scenario& scenario, const PolicyParams& params,
               const OracleOptions& options)
      : scenario_(scenario), params_(params), options_(options) {
    traces_.reserve(scenario_.guests.size());
    for (size_t i = 0; i < scenario_.guests.size(); ++i) {
      index_.emplace(scenario_.guests[i].name, i);
      traces_.push_back(TraceDemand(scenario_.guests[i], scenario_.duration_s,
                                    options_.step_s));
    }
  }

  std::string_view name() const override { return kOraclePolicyName; }

  Plan Decide(const Snapshot& snapshot) override;

 private:
  // One managed guest with stats, as the oracle plans it (MiB).
  struct GuestPlan {
    const GuestSample* sample = nullptr;
    const ScenarioGuest* spec = nullptr;
    const DemandTrace* trace = nullptr;
    double actual = 0, cur = 0, unused = 0;
    double floor = 0, ceiling = 0;
    double lean = 0;     // L: enough until the next decision can act
    double future = 0;   // F: enough for the capacity planning window
    double desired = 0;  // D: the comfortable target (fewer commands)
    double unreleasable = 0;
    double target = 0;
    double shares = 1;
    size_t urgency = 0;  // first step at which it runs short (smaller first)
  };

  double interval() const { return params_.interval_s; }
  double Margin(double target) const {
    return std::max(SimPressureLineMib(target) + kSlackMib,
                    KibToMib(params_.guest_min_unused_kib) + kSlackMib);
  }
  // The last step of a window of `horizon_s` from step k, extended over any
  // time the guest cannot be acted on (stats off) to the first decision after
  // its stats are back.
  size_t Reach(const DemandTrace& t, size_t k, double horizon_s) const;
  // Peak need over the lead time of the target it gives, plus margin.
  double Needed(const GuestPlan& p, size_t k, double extra_s) const;
  // Where the guests' demand at some moment ahead does not fit `room`, caps
  // their targets now by their share of that moment, before the memory is in
  // use and cannot be taken back.
  void ShareShortage(double t, double room,
                     std::vector<GuestPlan>* plans) const;

  Scenario scenario_;
  PolicyParams params_;
  OracleOptions options_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<DemandTrace> traces_;
};

size_t OraclePolicy::Reach(const DemandTrace& t, size_t k,
                           double horizon_s) const {
  if (t.size() == 0) return 0;
  const double step = t.step_s;
  auto steps = [step](double s) {
    return static_cast<size_t>(std::ceil(std::max(0.0, s) / step));
  };
  size_t end = std::min(t.size() - 1, k + steps(horizon_s));
  for (size_t j = k; j <= end; ++j) {
    if (t.running[j] && !t.stats_on[j]) {
      size_t back = j;
      while (back < t.size() && t.running[back] && !t.stats_on[back]) ++back;
      end = std::max(end, std::min(t.size() - 1,
                                   back + steps(kSimStatsPeriodS + interval()) +
                                       steps(horizon_s)));
      j = back;
    }
  }
  return end;
}

double OraclePolicy::Needed(const GuestPlan& p, size_t k,
                            double extra_s) const {
  const DemandTrace& tr = *p.trace;
  const double rate = std::max(1.0, p.spec->balloon_rate_mib_s);
  double target = tr.used_mib[k] + Margin(p.actual);
  for (int i = 0; i < 4; ++i) {
    const double lead = interval() + kSimStatsPeriodS +
                        std::max(0.0, target - p.actual) / rate + extra_s;
    const double peak = tr.PeakUsedMib(k, Reach(tr, k, lead));
    target = std::max(target, peak + Margin(std::max(target, p.actual)));
  }
  // The balloon only moves at `rate`: demand that later outruns it has to be
  // met by growing early. The target set now is what the balloon heads for
  // until the next decision that can act on the guest (step `act`); from
  // there on it gains at most `rate` a second, so every later step u must be
  // reachable: target >= need(u) - rate x (u - act). This looks past the
  // window above as far as a balloon at `rate` could still fall behind, up
  // to the guest's next stop (a restart boots at its start size).
  const size_t act = Reach(tr, k, interval() + kSimStatsPeriodS + extra_s);
  const double climb_s = std::max(0.0, p.ceiling - p.actual) / rate;
  const size_t last =
      std::min(tr.size() - 1,
               act + static_cast<size_t>(std::ceil(climb_s / tr.step_s)) + 1);
  for (size_t u = act + 1; u <= last && tr.running[u]; ++u) {
    const double used = tr.used_mib[u];
    // What the guest needs at u, with the margin of the size it has then.
    const double need = used + Margin(used + Margin(used));
    const double gain = rate * static_cast<double>(u - act) * tr.step_s;
    target = std::max(target, need - gain);
  }
  return std::clamp(target, p.floor, std::max(p.floor, p.ceiling));
}

void OraclePolicy::ShareShortage(double t, double room,
                                 std::vector<GuestPlan>* plans) const {
  if (plans->empty()) return;
  const DemandTrace& first = *(*plans)[0].trace;
  const size_t k = first.StepAt(t);
  const size_t end =
      first.StepAt(t + kLookAheadS + interval() + kSimStatsPeriodS);
  // The moment ahead with the largest sum of needs.
  double worst = -1;
  size_t worst_k = k;
  for (size_t j = k; j <= end; ++j) {
    double sum = 0;
    for (const GuestPlan& p : *plans) {
      const double need = p.trace->used_mib[std::min(j, p.trace->size() - 1)];
      sum += std::max({need + Margin(p.actual), p.unreleasable,
                       std::min(p.floor, p.actual)});
    }
    if (sum > worst) {
      worst = sum;
      worst_k = j;
    }
  }
  if (worst <= room) return;
  // Each guest's deficit above its floor is covered by min(1, level x
  // shares), the level set so that the shares fill the room. A guest that
  // already holds more than its share in use keeps that (it cannot be taken
  // back), and the others share what is left.
  const size_t n = plans->size();
  std::vector<double> want(n), base(n), share(n);
  std::vector<bool> pinned(n, false);
  for (size_t i = 0; i < n; ++i) {
    const GuestPlan& p = (*plans)[i];
    want[i] =
        std::min(p.trace->used_mib[std::min(worst_k, p.trace->size() - 1)] +
                     Margin(p.actual),
                 p.ceiling);
    base[i] = std::min(want[i], p.floor);
  }
  for (size_t round = 0; round <= n; ++round) {
    double left = room;
    for (size_t i = 0; i < n; ++i) left -= pinned[i] ? share[i] : base[i];
    auto given = [&](double level) {
      double s = 0;
      for (size_t i = 0; i < n; ++i) {
        if (pinned[i]) continue;
        s += std::max(0.0, want[i] - base[i]) *
             std::min(1.0, level * (*plans)[i].shares);
      }
      return s;
    };
    double level = 0;
    if (left > 0) {
      double lo = 0, hi = 1;
      while (given(hi) < left && hi < 1e12) hi *= 2;
      for (int i = 0; i < 60; ++i) {
        const double mid = (lo + hi) / 2;
        (given(mid) < left ? lo : hi) = mid;
      }
      level = lo;
    }
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (pinned[i]) continue;
      share[i] = base[i] + std::max(0.0, want[i] - base[i]) *
                               std::min(1.0, level * (*plans)[i].shares);
      if ((*plans)[i].unreleasable > share[i]) {
        share[i] = (*plans)[i].unreleasable;
        pinned[i] = true;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (size_t i = 0; i < plans->size(); ++i) {
    GuestPlan& p = (*plans)[i];
    // A guest whose demand falls by then is not held back now.
    if (p.trace->used_mib[std::min(worst_k, p.trace->size() - 1)] <
        p.trace->used_mib[std::min(k, p.trace->size() - 1)]) {
      continue;
    }
    p.target = std::min(p.target, std::max(share[i], p.unreleasable));
  }
}

Plan OraclePolicy::Decide(const Snapshot& snapshot) {
  Plan plan;
  const double t = snapshot.time_s - options_.start_s;
  const double min_unused = KibToMib(params_.guest_min_unused_kib);
  const double host_min_free = KibToMib(params_.host_min_free_kib);
  const double window_s = kReleaseTicks * interval() + 2 * kSimStatsPeriodS;

  std::vector<GuestPlan> plans;
  double fixed = 0;  // guests the oracle cannot act on hold their memory
  double sum_actual = 0;
  int64_t pending_kib = 0;  // growth set earlier and still in flight
  for (const GuestSample& g : snapshot.guests) {
    sum_actual += KibToMib(g.actual_kib);
    const int64_t cur_kib = g.target_kib.value_or(g.actual_kib);
    pending_kib += std::max<int64_t>(0, cur_kib - g.actual_kib);
    auto it = index_.find(g.name);
    if (!g.has_stats() || !g.limits.managed || it == index_.end() ||
        traces_[it->second].size() == 0) {
      fixed += KibToMib(std::max(g.actual_kib, cur_kib));
      continue;
    }
    GuestPlan p;
    p.sample = &g;
    p.spec = &scenario_.guests[it->second];
    p.trace = &traces_[it->second];
    p.actual = KibToMib(g.actual_kib);
    p.cur = KibToMib(cur_kib);
    p.unused = KibToMib(*g.unused_kib);
    p.floor = KibToMib(g.limits.floor_kib);
    p.ceiling = KibToMib(g.ceiling_kib());
    p.shares = static_cast<double>(std::max<int64_t>(1, g.limits.shares));
    plans.push_back(p);
  }

  // Guests that start within the window take their start size at once.
  double starting = 0;
  for (size_t i = 0; i < scenario_.guests.size(); ++i) {
    const DemandTrace& tr = traces_[i];
    if (tr.size() == 0) continue;
    const size_t k = tr.StepAt(t);
    // Running now (or hidden by the domain filter): not starting.
    if (tr.running[k] || snapshot.Find(scenario_.guests[i].name) != nullptr) {
      continue;
    }
    const size_t end = tr.StepAt(t + window_s + interval());
    for (size_t j = k; j <= end; ++j) {
      if (tr.running[j]) {
        starting += scenario_.guests[i].start_mib;
        break;
      }
    }
  }

  for (GuestPlan& p : plans) {
    const size_t k = p.trace->StepAt(t);
    const double now = p.trace->used_mib[k];
    p.lean = Needed(p, k, 0);
    p.future = std::max(p.lean, Needed(p, k, window_s));
    const double ahead = Needed(p, k, kLookAheadS);
    // The lowest G1 lets it go now, whatever the target.
    p.unreleasable = std::min(p.actual, p.actual - p.unused + min_unused);
    // Enough for a few decisions at once, but no more than the waste line
    // allows where that is more than those few decisions need.
    const double few = Needed(p, k, kGrowTicks * interval());
    if (p.cur < p.lean) {
      p.desired = std::max(
          p.lean, std::min(ahead, std::max(few, now + kSimWasteLineMib +
                                                    kChunkOverWasteMib)));
    } else if (p.unused > kSimWasteLineMib + kSlackMib) {
      // Hand back what is wasted, keeping what demand comes back for soon
      // as far as that is not waste itself.
      const double keep = std::max(
          few,
          std::min(ahead, p.actual - p.unused + kSimWasteLineMib - kSlackMib));
      p.desired = keep < p.cur - kMinStepMib ? keep : p.cur;
    } else {
      p.desired = p.cur;
    }
    p.desired = std::clamp(p.desired, p.floor, std::max(p.floor, p.ceiling));
    // When it first runs short of what it has now.
    p.urgency = std::numeric_limits<size_t>::max();
    for (size_t j = k; j < p.trace->size(); ++j) {
      if (p.trace->used_mib[j] + Margin(p.actual) > p.actual) {
        p.urgency = j;
        break;
      }
      if (j > k + static_cast<size_t>(kLookAheadS / p.trace->step_s)) break;
    }
  }

  // Capacity: host total less its own use and reserve, and the budget.
  double capacity =
      KibToMib(snapshot.host.available_kib) + sum_actual - host_min_free;
  if (snapshot.guest_budget_kib) {
    capacity = std::min(capacity, KibToMib(*snapshot.guest_budget_kib));
  }
  const double room = capacity - fixed - starting;
  bool lean_level = true;  // memory is needed elsewhere
  auto sum = [&plans](auto level) {
    double s = 0;
    for (const GuestPlan& p : plans) s += std::max(level(p), p.unreleasable);
    return s;
  };
  if (sum([](const GuestPlan& p) { return std::max(p.desired, p.future); }) <=
      room) {
    for (GuestPlan& p : plans) p.target = p.desired;
    lean_level = false;
  } else if (sum([](const GuestPlan& p) { return p.future; }) <= room) {
    // Demand over the window fits only without the comfort: guests whose
    // future demand is low give back early what others will need.
    for (GuestPlan& p : plans) {
      p.target = std::max(p.lean, std::min(p.desired, p.future));
    }
  } else {
    for (GuestPlan& p : plans) p.target = p.lean;
  }
  ShareShortage(t, room, &plans);

  // Grows first, most urgent first: G2 and G6 grant growth in plan order.
  std::stable_sort(plans.begin(), plans.end(),
                   [](const GuestPlan& a, const GuestPlan& b) {
                     return a.urgency < b.urgency;
                   });
  const int64_t starting_kib = CeilKib(starting);
  int64_t host_room = snapshot.host.available_kib - params_.host_min_free_kib -
                      pending_kib - starting_kib;
  // No budget: a room no sum of guest sizes reaches, with space to add to.
  int64_t budget_room = std::numeric_limits<int64_t>::max() / 4;
  if (snapshot.guest_budget_kib) {
    int64_t actual_kib = 0;
    for (const GuestSample& g : snapshot.guests) actual_kib += g.actual_kib;
    budget_room = *snapshot.guest_budget_kib - actual_kib - pending_kib;
  }
  std::vector<Action> shrinks;
  for (const GuestPlan& p : plans) {
    const GuestSample& g = *p.sample;
    const int64_t cur_kib = g.target_kib.value_or(g.actual_kib);
    const bool short_now = p.cur < p.lean;
    double want = p.target;
    if (std::abs(want - p.cur) < kMinStepMib && !short_now) continue;
    if (want > p.cur) {
      // More than the balloon is heading for: a grow (or the end of a
      // shrink still in flight).
      int64_t target_kib = std::max(CeilKib(want), g.actual_kib + kKibPerMib);
      target_kib = std::min(target_kib, g.ceiling_kib());
      const int64_t own_pending = std::max<int64_t>(0, cur_kib - g.actual_kib);
      const int64_t room_kib = std::min(host_room, budget_room) + own_pending;
      const int64_t grant =
          std::min(target_kib - g.actual_kib, std::max<int64_t>(0, room_kib));
      if (grant <= 0 || g.actual_kib + grant <= cur_kib) continue;
      host_room += own_pending - grant;
      budget_room += own_pending - grant;
      plan.actions.push_back(
          {g.name, g.actual_kib, g.actual_kib + grant,
           short_now ? Reason::kPredicted : Reason::kBalance});
    } else if (want >= p.actual) {
      // A grow in flight that is larger than needed: cut it back.
      const int64_t target_kib = std::max(CeilKib(want), g.actual_kib + 1);
      const int64_t own_pending = std::max<int64_t>(0, cur_kib - g.actual_kib);
      host_room += own_pending - (target_kib - g.actual_kib);
      budget_room += own_pending - (target_kib - g.actual_kib);
      plan.actions.push_back(
          {g.name, g.actual_kib, target_kib, Reason::kHostPressure});
    } else {
      // A shrink, no larger than G1 and G3 allow.
      const int64_t unused_kib = *g.unused_kib;
      const int64_t g1 = unused_kib - params_.guest_min_unused_kib;
      const auto g3 = static_cast<int64_t>(std::floor(
          static_cast<double>(unused_kib) * params_.max_release_fraction));
      const int64_t cap = std::min(g1, g3);
      if (cap <= 0) continue;
      int64_t target_kib =
          std::max({CeilKib(want), g.actual_kib - cap, g.limits.floor_kib});
      if (target_kib >= g.actual_kib) continue;
      if (KibToMib(cur_kib - target_kib) < kMinStepMib) continue;
      // One release at a time while there is no hurry: G3 measures the next
      // from what the guest has left.
      if (cur_kib < g.actual_kib - kKibPerMib && !lean_level) continue;
      shrinks.push_back(
          {g.name, g.actual_kib, target_kib,
           p.target < p.desired ? Reason::kHostPressure : Reason::kReclaim});
    }
  }
  plan.actions.insert(plan.actions.end(), shrinks.begin(), shrinks.end());
  return plan;
}

}  // namespace

std::unique_ptr<Policy> NewOraclePolicy(const Scenario& scenario,
                                        const PolicyParams& params,
                                        const OracleOptions& options) {
  return std::make_unique<OraclePolicy>(scenario, params, options);
}

}  // namespace memcoord
