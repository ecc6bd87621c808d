// The adaptive policy (DESIGN section 6, adaptive): the default.
//
// Every tick it looks at every guest. Free memory F is the best signal the
// guest gives (usable when reported, else unused); demand D = actual - F is
// what the guest holds and cannot give back. D does not move when the
// balloon moves, so its trend is the guest's own: the slope s of D (KiB/s,
// the larger of the least-squares slope over the last 4 samples and the
// last step) says how fast free memory is being eaten.
//
// Lines, per guest: starvation L = max(starvation, 6 % of actual), critical
// C = max(guest_min_unused, 5 % of actual), waste W = waste threshold, and
// headroom H = 0.75 * (W - starvation).
//
// Growth. A guest is critical when F <= C or when it swaps in or takes
// major faults; starved when F <= L; predicted when its demand rises and
// F - s*I < L, i.e. it would cross the line before the next decision
// (interval I). Such a guest is given
//     G = max(L + H + X + s*(I + settle) - F, 0.9*W - F)
// where X is what it has in swap (swap out - swap in) and settle =
// min(I, G0/v) the time the balloon (speed v, learned from observed moves)
// needs for the first-order grant G0 = L + H + X + s*I - F: the grant lasts
// until the next decision and the balloon move that follows it. Memory
// below the waste line costs nothing, so the grant fills up to near it.
//
// Sharing. Growth is paid from host free above the host reserve and from
// the guest budget, both less growth already promised to balloons still
// moving. First every guest gets its urgent part, max(C + X + s*(I +
// settle) - F, 0); then the rest of each need, critical before starved
// before predicted before floor; within each round by shares x what is
// still missing, water-filled. Grow actions come first in the plan, most
// urgent first, because guardrails grant growth in plan order.
//
// Reclaim. A guest whose demand is not rising and whose unused exceeds W by
// half a minimum step gives back down to L + 0.25*(W - starvation) unused
// (guardrails release at most half of unused per step, so this is
// gradual). A guest grown in the last 5 decisions must stay above W for 3
// samples first: its workload may only have paused. While the host is
// under its reserve or urgent needs go unmet, idle guests (demand not
// rising, not grown lately) are squeezed down to C + 16 MiB unused, the
// most spare first, until the shortfall is covered.
//
// Hysteresis. Changes under max(32 MiB, 2 % of actual) are dropped, and a
// guest whose balloon has not settled on its last target (within max(8
// MiB, v*I/4), and still moving) gets no new command unless it is starving
// harder than when the last grow was sent.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "memcoord/policy.h"
#include "policies.h"
#include "ring_window.h"

namespace memcoord {
namespace {

constexpr size_t kTrendSamples = 4;  // samples in the least-squares fit
// Hysteresis: no change smaller than max(32 MiB, 2 % of actual).
constexpr int64_t kMinStepKib = 32 * kKibPerMib;
constexpr double kMinStepFraction = 0.02;
// A balloon within max(8 MiB, a quarter of what it moves in one interval)
// of its target has settled: it arrives before the next command could.
constexpr int64_t kSettleToleranceKib = 8 * kKibPerMib;
constexpr double kSettleFraction = 0.25;
// Balloon speed assumed until one is observed; a real virtio balloon moves
// faster than this, so the assumption errs toward larger grants.
constexpr double kDefaultSpeedKibS = 128.0 * kKibPerMib;
// Demand slopes under this (KiB/s) count as flat: rounding of the stats.
constexpr double kFlatSlopeKibS = 1.0 * kKibPerMib;
// Lines scale with the guest: a large guest needs more free memory to
// stay out of reclaim (the kernel's watermarks scale the same way).
constexpr double kLineFraction = 0.06;      // starvation line L
constexpr double kCriticalFraction = 0.05;  // critical line C
// Headroom above L that a grant aims for, and what a reclaim leaves above
// L, as fractions of the band between the starvation and waste lines.
constexpr double kHeadroomFraction = 0.75;
constexpr double kKeepFraction = 0.25;
// Memory below the waste line costs a guest nothing to hold, so a grant
// fills free memory up to this fraction of the waste line at least.
constexpr double kFillFraction = 0.9;
// Reclaim when unused exceeds the waste line by half a minimum step, after
// one sample; a guest grown in the last kRecentTicks decisions must stay
// above the line for kWasteTicksAfterGrow samples, as its workload may only
// have paused.
constexpr double kExcessSteps = 0.5;
constexpr int kWasteTicks = 1;
constexpr int kWasteTicksAfterGrow = 3;
constexpr int64_t kRecentTicks = 5;
// Guests squeezed for the host keep C plus this.
constexpr int64_t kSqueezeMarginKib = 16 * kKibPerMib;

struct Point {
  double time_s;
  int64_t actual_kib;
  int64_t demand_kib;
  int64_t swap_in_kib;
  int64_t major_faults;
};

// The points of the trend fit, and the one before them (for the last step).
using History = RingWindow<Point, kTrendSamples + 1>;

struct Memory {
  History points;
  int above_waste = 0;
  double speed_kib_s = kDefaultSpeedKibS;
  // Free memory when the last grow was sent, for "starving harder".
  std::optional<int64_t> free_at_command_kib;
  std::optional<int64_t> last_grow_tick;
  // When host pressure last squeezed the guest.
  std::optional<int64_t> last_squeeze_tick;
  uint64_t seen = 0;  // the Remember() call that last saw the guest
};

// Growth classes, most urgent first.
enum class Urgency { kCritical = 0, kStarved = 1, kPredicted = 2, kFloor = 3 };
constexpr int kUrgencyCount = 4;

struct Need {
  const GuestSample* guest;
  Urgency urgency;
  int64_t from_kib;  // where the growth starts (a pending target counts)
  int64_t need_kib;
  int64_t urgent_kib;  // the part that keeps it off its critical line
  double order;        // lower is more urgent within an urgency class
  int64_t grant_kib = 0;
};

int64_t Clamp0(int64_t v) { return v < 0 ? 0 : v; }

// Least-squares slope of demand over the points (KiB per second).
double TrendSlope(const History& points) {
  const size_t n = std::min(points.size(), kTrendSamples);
  if (n < 2) return 0;
  const size_t first = points.size() - n;
  double mt = 0, md = 0;
  for (size_t i = first; i < points.size(); ++i) {
    mt += points[i].time_s;
    md += static_cast<double>(points[i].demand_kib);
  }
  mt /= static_cast<double>(n);
  md /= static_cast<double>(n);
  double num = 0, den = 0;
  for (size_t i = first; i < points.size(); ++i) {
    const double dt = points[i].time_s - mt;
    num += dt * (static_cast<double>(points[i].demand_kib) - md);
    den += dt * dt;
  }
  return den > 0 ? num / den : 0;
}

class AdaptivePolicy : public Policy {
 public:
  explicit AdaptivePolicy(const PolicyParams& params) : params_(params) {}
  std::string_view name() const override { return "adaptive"; }

  Plan Decide(const Snapshot& snapshot) override {
    ++tick_;
    Remember(snapshot);
    const int64_t s_line = params_.starvation_kib;
    const int64_t band = std::max<int64_t>(params_.waste_kib - s_line, 0);
    const double headroom = kHeadroomFraction * static_cast<double>(band);
    const double interval = std::max(params_.interval_s, 0.1);

    // Growth already promised and not yet delivered is not free to give.
    int64_t pending = 0, sum_actual = 0;
    for (const GuestSample& g : snapshot.guests) {
      sum_actual += g.actual_kib;
      if (g.target_kib) pending += Clamp0(*g.target_kib - g.actual_kib);
    }
    const int64_t host_short =
        params_.host_min_free_kib - (snapshot.host.free_kib - pending);
    int64_t available = -host_short;
    if (snapshot.guest_budget_kib) {
      available = std::min(available,
                           *snapshot.guest_budget_kib - sum_actual - pending);
    }
    available = Clamp0(available);

    std::vector<Need> needs;
    struct Idle {
      const GuestSample* guest;
      int64_t unused_kib;
      int64_t keep_kib;
    };
    std::vector<Idle> idle;
    std::vector<Action> shrinks;

    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      Memory& m = memory_[g.name];
      const int64_t free = g.usable_kib ? *g.usable_kib : *g.unused_kib;
      const int64_t unused = *g.unused_kib;
      // What can be taken without starving the guest: a kernel keeps part
      // of its free memory in reserve, so usable may read below unused, and
      // what a shrink may take is judged on the same signal that judges
      // starvation (else a shrink makes the guest look starved, and it is
      // grown back the next tick).
      const int64_t spare = std::min(unused, free);
      const int64_t actual = g.actual_kib;
      const double actual_d = static_cast<double>(actual);
      const int64_t floor = g.limits.floor_kib;
      const int64_t ceiling = std::max(g.ceiling_kib(), floor);
      const double slope = DemandSlope(m);
      const bool rising = slope > kFlatSlopeKibS;
      const int64_t line = std::max<int64_t>(
          s_line, static_cast<int64_t>(kLineFraction * actual_d));
      const int64_t critical =
          std::max<int64_t>(params_.guest_min_unused_kib,
                            static_cast<int64_t>(kCriticalFraction * actual_d));
      const bool faulting = Faulting(m);
      const bool is_critical = free <= critical || faulting;
      const bool starved = is_critical || free <= line;
      const int64_t swapped = g.swap_out_kib && g.swap_in_kib
                                  ? Clamp0(*g.swap_out_kib - *g.swap_in_kib)
                                  : 0;
      const int64_t min_step = std::max<int64_t>(
          kMinStepKib, static_cast<int64_t>(kMinStepFraction * actual_d));
      const int64_t tolerance = std::max<int64_t>(
          kSettleToleranceKib,
          static_cast<int64_t>(kSettleFraction * m.speed_kib_s * interval));
      const bool moving = g.target_kib &&
                          std::llabs(*g.target_kib - actual) > tolerance &&
                          StillMoving(m);
      const int64_t from = moving ? *g.target_kib : actual;
      const double free_after = static_cast<double>(free + (from - actual));

      // Corrections to the configured bounds come before anything else.
      if (actual > ceiling) {
        shrinks.push_back({g.name, actual, ceiling, Reason::kCeiling});
        continue;
      }
      if (from < floor) {
        needs.push_back(
            {&g, Urgency::kFloor, from, floor - from, floor - from, 0});
        continue;
      }

      // Growth: enough to stay above L + H until the next decision and the
      // balloon move after it (settle), and at least up to near the waste
      // line. The urgent part only keeps the guest above C meanwhile.
      const double s_up = std::max(slope, 0.0);
      const double base = static_cast<double>(line + swapped) + headroom -
                          free_after + s_up * interval;
      const double settle =
          std::min(interval, std::max(base, 0.0) / m.speed_kib_s);
      const double grant = std::max(
          {base + s_up * settle,
           kFillFraction * static_cast<double>(params_.waste_kib) - free_after,
           0.0});
      const double urgent =
          std::max(static_cast<double>(critical + swapped) +
                       s_up * (interval + settle) - free_after,
                   0.0);
      // Predicted: the line would be crossed before the next decision. A
      // later crossing is the next decision's to prevent; once the balloon
      // moves it outruns the guest.
      const bool predicted =
          rising && free_after - s_up * interval < static_cast<double>(line);
      // A guest squeezed for the host lately stays squeezed while its
      // demand is flat and it does not fault: regrowing it would take back
      // what a needier guest was just given. Its free memory may read low
      // (a kernel keeps part of MemFree out of MemAvailable), but nothing
      // in it is asking for more.
      const bool squeezed = m.last_squeeze_tick &&
                            tick_ - *m.last_squeeze_tick <= kRecentTicks &&
                            !rising && !faulting;
      if ((starved || predicted) && from < ceiling && !squeezed) {
        const bool harder =
            !m.free_at_command_kib || free < *m.free_at_command_kib;
        if (!moving || (starved && harder)) {
          int64_t need =
              std::min(ceiling, from + static_cast<int64_t>(grant)) - from;
          // A guest at the line gets at least a minimum step; one whose
          // free memory is only low in its stats (its pending grant covers
          // it) or that only faults its swap back in does not.
          if (free_after <= static_cast<double>(line) && need < min_step) {
            need = std::min(min_step, ceiling - from);
          }
          if (need >= min_step || (need > 0 && from + need == ceiling)) {
            // Within a class, the guest closest to its line goes first.
            const double order =
                predicted && !starved
                    ? (free_after - static_cast<double>(line)) /
                          std::max(s_up, 1.0)
                    : static_cast<double>(free - swapped - critical);
            const Urgency u = is_critical ? Urgency::kCritical
                              : starved   ? Urgency::kStarved
                                          : Urgency::kPredicted;
            needs.push_back({&g, u, from, need,
                             std::min(need, static_cast<int64_t>(urgent)),
                             order});
          }
        }
        continue;
      }
      // A guest whose demand rises but whose free memory lasts well past the
      // next decision may lend the excess to a guest that is about to be
      // OOM-killed: only while urgent needs go unmet (the squeeze below).
      if (rising && !moving && !starved) {
        const double keep_free = static_cast<double>(line + kSqueezeMarginKib) +
                                 2.0 * s_up * interval;
        const int64_t excess =
            free - static_cast<int64_t>(std::ceil(keep_free));
        if (excess >= min_step) idle.push_back({&g, unused, unused - excess});
        continue;
      }
      // A squeezed guest may be squeezed further (one step takes at most
      // half of its spare).
      if (moving || rising || (starved && !squeezed)) continue;

      // Reclaim. A guest that was just given memory must show for longer
      // that it does not need it: its workload may only have paused.
      const bool recently_grown =
          m.last_grow_tick && tick_ - *m.last_grow_tick <= kRecentTicks;
      const int64_t hard_keep = critical + kSqueezeMarginKib;
      // The squeeze goes as far as the guardrails let a shrink go (G1 is
      // judged on unused): it only happens while another guest's urgent
      // need is unmet or the host is under its reserve.
      if (unused > hard_keep && !recently_grown) {
        idle.push_back({&g, unused, hard_keep});
      }
      const int waste_ticks =
          recently_grown ? kWasteTicksAfterGrow : kWasteTicks;
      if (m.above_waste >= waste_ticks &&
          static_cast<double>(unused - params_.waste_kib) >=
              kExcessSteps * static_cast<double>(min_step)) {
        const int64_t keep =
            line +
            static_cast<int64_t>(kKeepFraction * static_cast<double>(band));
        const int64_t target = std::max(actual - (spare - keep), floor);
        if (actual - target >= min_step) {
          shrinks.push_back({g.name, actual, target, Reason::kReclaim});
        }
      }
    }

    // Share what there is.
    std::stable_sort(needs.begin(), needs.end(),
                     [](const Need& a, const Need& b) {
                       if (a.urgency != b.urgency) return a.urgency < b.urgency;
                       return a.order < b.order;
                     });
    Share(needs, available);
    int64_t unmet = 0;
    Plan plan;
    for (const Need& n : needs) {
      unmet += Clamp0(n.urgent_kib - n.grant_kib);
      const GuestSample& g = *n.guest;
      // A sliver of host memory is not worth a command; the guest waits for
      // the next decision, when reclaim may have freed more.
      const int64_t min_step = std::max<int64_t>(
          kMinStepKib, static_cast<int64_t>(kMinStepFraction *
                                            static_cast<double>(g.actual_kib)));
      if (n.grant_kib < std::min(n.need_kib, min_step)) continue;
      const Reason reason = n.urgency == Urgency::kPredicted
                                ? Reason::kPredicted
                            : n.urgency == Urgency::kFloor ? Reason::kFloor
                                                           : Reason::kStarved;
      plan.actions.push_back(
          {g.name, g.actual_kib, n.from_kib + n.grant_kib, reason});
      Memory& m = memory_[g.name];
      m.free_at_command_kib = g.usable_kib ? *g.usable_kib : *g.unused_kib;
      m.last_grow_tick = tick_;
    }

    // While the host is short, idle guests give back more and sooner.
    const int64_t shortfall = unmet + Clamp0(host_short);
    if (shortfall > 0) {
      std::sort(idle.begin(), idle.end(), [](const Idle& a, const Idle& b) {
        return a.unused_kib - a.keep_kib > b.unused_kib - b.keep_kib;
      });
      // A guest has at most one shrink so far (a ceiling or a reclaim).
      // The keys view the names inside `shrinks`: the loop below appends at
      // most one shrink per idle guest, and must never reallocate under them.
      shrinks.reserve(shrinks.size() + idle.size());
      std::unordered_map<std::string_view, size_t> shrink_of;
      shrink_of.reserve(shrinks.size());
      for (size_t k = 0; k < shrinks.size(); ++k) {
        shrink_of.emplace(shrinks[k].domain, k);
      }
      int64_t freed = 0;
      for (const Idle& i : idle) {
        if (freed >= shortfall) break;
        const GuestSample& g = *i.guest;
        const int64_t target = std::max(
            g.actual_kib - (i.unused_kib - i.keep_kib), g.limits.floor_kib);
        if (g.actual_kib - target < kMinStepKib) continue;
        auto merged = shrink_of.find(g.name);
        memory_[g.name].last_squeeze_tick = tick_;
        if (merged != shrink_of.end()) {
          Action& a = shrinks[merged->second];
          a.target_kib = std::min(a.target_kib, target);
          a.reason = Reason::kHostPressure;
        } else {
          shrinks.push_back(
              {g.name, g.actual_kib, target, Reason::kHostPressure});
        }
        // Guardrails let one shrink take at most this much.
        freed +=
            std::min(g.actual_kib - target,
                     static_cast<int64_t>(params_.max_release_fraction *
                                          static_cast<double>(i.unused_kib)));
      }
    }
    for (Action& a : shrinks) {
      memory_[a.domain].free_at_command_kib.reset();
      plan.actions.push_back(a);
    }
    return plan;
  }

 private:
  // Appends this snapshot's stats to each guest's history and forgets guests
  // that are gone.
  // Updated in place: rebuilding the map would allocate every guest's node
  // on every tick.
  void Remember(const Snapshot& snapshot) {
    ++remembered_;
    for (const GuestSample& g : snapshot.guests) {
      Memory& m = memory_[g.name];
      if (m.seen == remembered_) continue;  // a repeated name: the first counts
      m.seen = remembered_;
      if (g.has_stats()) {
        const double t = g.stats_time_s.value_or(snapshot.time_s);
        const int64_t free = g.usable_kib ? *g.usable_kib : *g.unused_kib;
        const int64_t actual = g.available_kib.value_or(g.actual_kib);
        Point p{t, actual, actual - free, g.swap_in_kib.value_or(0),
                g.major_faults.value_or(0)};
        if (m.points.empty() || t > m.points.back().time_s) {
          if (!m.points.empty()) LearnSpeed(m, p, g);
          m.points.push_back(p);
          m.above_waste =
              *g.unused_kib > params_.waste_kib ? m.above_waste + 1 : 0;
        }
      } else {
        // A guest without stats starts its history afresh when they return.
        m.points.clear();
        m.above_waste = 0;
      }
    }
    std::erase_if(memory_, [this](const auto& entry) {
      return entry.second.seen != remembered_;
    });
  }

  // A balloon that moved the whole time between two samples shows its
  // speed; one that arrived early shows a lower bound.
  static void LearnSpeed(Memory& m, const Point& p, const GuestSample& g) {
    const Point& last = m.points.back();
    const double dt = p.time_s - last.time_s;
    const double moved =
        static_cast<double>(std::llabs(p.actual_kib - last.actual_kib));
    if (dt <= 0 || moved < static_cast<double>(kSettleToleranceKib)) return;
    const bool arrived =
        !g.target_kib ||
        std::llabs(*g.target_kib - p.actual_kib) <= kSettleToleranceKib;
    const double speed = moved / dt;
    m.speed_kib_s = arrived ? std::max(m.speed_kib_s, speed) : speed;
  }

  static double DemandSlope(const Memory& m) {
    if (m.points.size() < 2) return 0;
    const Point& a = m.points[m.points.size() - 2];
    const Point& b = m.points.back();
    const double last = static_cast<double>(b.demand_kib - a.demand_kib) /
                        std::max(b.time_s - a.time_s, 1e-3);
    return std::max(last, TrendSlope(m.points));
  }

  static bool Faulting(const Memory& m) {
    if (m.points.size() < 2) return false;
    const Point& a = m.points[m.points.size() - 2];
    const Point& b = m.points.back();
    return b.swap_in_kib > a.swap_in_kib || b.major_faults > a.major_faults;
  }

  // False when the balloon stood still over the last sample: it will not
  // reach its target (a shrink stops where the guest's memory is in use).
  static bool StillMoving(const Memory& m) {
    if (m.points.size() < 2) return true;
    const Point& a = m.points[m.points.size() - 2];
    const Point& b = m.points.back();
    return std::llabs(b.actual_kib - a.actual_kib) > kSettleToleranceKib;
  }

  // Grants up to `cap(need)` to each need in `group`, in proportion to
  // shares x what it still lacks; guests whose share covers them take what
  // they lack and the rest is shared again. Returns what is left.
  template <typename Cap>
  static int64_t WaterFill(const std::vector<Need*>& group, int64_t available,
                           Cap cap) {
    std::vector<Need*> open;
    int64_t total = 0;
    for (Need* n : group) {
      const int64_t left = cap(*n) - n->grant_kib;
      if (left > 0) {
        open.push_back(n);
        total += left;
      }
    }
    if (total <= available) {
      for (Need* n : open) n->grant_kib = std::max(n->grant_kib, cap(*n));
      return available - total;
    }
    while (!open.empty() && available > 0) {
      double weight = 0;
      for (Need* n : open) {
        weight += static_cast<double>(n->guest->limits.shares) *
                  static_cast<double>(cap(*n) - n->grant_kib);
      }
      if (weight <= 0) break;
      std::vector<Need*> still;
      int64_t given = 0;
      for (Need* n : open) {
        const int64_t left = cap(*n) - n->grant_kib;
        const double w = static_cast<double>(n->guest->limits.shares) *
                         static_cast<double>(left);
        const int64_t g = std::min(
            left,
            static_cast<int64_t>(static_cast<double>(available) * w / weight));
        n->grant_kib += g;
        given += g;
        if (n->grant_kib < cap(*n)) still.push_back(n);
      }
      available -= given;
      if (given == 0 || still.size() == open.size()) break;
      open = std::move(still);
    }
    return available;
  }

  // Grants `available` KiB over `needs`: first what keeps every guest off
  // its critical line, then the rest of each need, most urgent class first.
  static void Share(std::vector<Need>& needs, int64_t available) {
    std::vector<Need*> all;
    for (Need& n : needs) all.push_back(&n);
    available =
        WaterFill(all, available, [](const Need& n) { return n.urgent_kib; });
    for (int cls = 0; cls < kUrgencyCount && available > 0; ++cls) {
      std::vector<Need*> group;
      for (Need* n : all) {
        if (static_cast<int>(n->urgency) == cls) group.push_back(n);
      }
      available =
          WaterFill(group, available, [](const Need& n) { return n.need_kib; });
    }
  }

  PolicyParams params_;
  int64_t tick_ = 0;
  std::unordered_map<std::string, Memory> memory_;
  uint64_t remembered_ = 0;
};

}  // namespace

std::unique_ptr<Policy> NewAdaptivePolicy(const PolicyParams& params) {
  return std::make_unique<AdaptivePolicy>(params);
}

}  // namespace memcoord
