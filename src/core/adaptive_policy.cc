// The adaptive policy (DESIGN section 6, adaptive): the default.
//
// Every tick it looks at every guest. Free memory F is the best signal the
// guest gives (usable when reported, else unused); demand D = actual - F is
// what the guest holds and cannot give back. D does not move when the
// balloon moves, so its trend is the guest's own: the slope s of D (KiB/s,
// the larger of the least-squares slope over the last samples and the last
// step) says how fast free memory is being eaten.
//
// Growth. A guest is starving when F <= starvation line S, or when it swaps
// in or takes major faults. It is predicted to starve when F - s*(I + G/v) <
// S: by the time the next decision (interval I) and the balloon move (growth
// G at balloon speed v) are done it would be below the line. Either way it
// is given
//     G = (S + H + X + s*(I + A*I) - F) / (1 - s/v)
// where H = (waste - S)/2 is headroom, X the memory it has in swap (swap out
// minus swap in) and A the number of further intervals a grant should last,
// so that a steadily growing guest needs few commands.
//
// Sharing. Growth is paid from host free above the host reserve and from the
// guest budget, both less the growth already promised to guests whose
// balloons are still moving. When that does not cover every need, grants are
// proportional to shares x need, filled up to each need, starving guests
// before predicted ones.
//
// Reclaim. A guest whose unused stays above the waste line for kWasteTicks
// samples and whose demand is not rising gives back down to S + H unused
// (guardrails release at most half of unused per step, so this is gradual).
// While the host is under its reserve or needs go unmet, every idle guest
// (demand not rising) is squeezed down to S unused at once.
//
// Hysteresis. Changes under max(32 MiB, 2 % of actual) are dropped, and a
// guest whose balloon is still moving toward its last target gets no new
// command unless it is starving harder than when that command was sent.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memcoord/policy.h"
#include "policies.h"

namespace memcoord {
namespace {

constexpr size_t kTrendSamples = 4;        // samples in the least-squares fit
constexpr int kWasteTicks = 2;             // samples above the waste line
constexpr double kPlanAheadIntervals = 3;  // a grant lasts this much longer
constexpr int64_t kMinStepKib = 32 * kKibPerMib;
constexpr double kMinStepFraction = 0.02;
constexpr int64_t kSettleToleranceKib = 8 * kKibPerMib;
// Balloon speed assumed until one is observed; a real virtio balloon moves
// faster than this, so the assumption errs toward larger grants.
constexpr double kDefaultSpeedKibS = 128.0 * kKibPerMib;
// s/v above this would make the grant formula blow up; the balloon cannot
// outrun such a guest anyway and the next decision catches up.
constexpr double kMaxSpeedRatio = 0.75;
// Demand slopes under this (KiB/s) count as flat: rounding of the stats.
constexpr double kFlatSlopeKibS = 1.0 * kKibPerMib;

struct Point {
  double time_s;
  int64_t actual_kib;
  int64_t demand_kib;
  int64_t swap_in_kib;
  int64_t major_faults;
};

struct Memory {
  std::deque<Point> points;
  int above_waste = 0;
  double speed_kib_s = kDefaultSpeedKibS;
  // Free memory when the last command was sent, for "starving harder".
  std::optional<int64_t> free_at_command_kib;
};

enum class Urgency { kStarved = 0, kPredicted = 1, kFloor = 2 };

struct Need {
  const GuestSample* guest;
  Urgency urgency;
  int64_t from_kib;  // where the growth starts (a pending target counts)
  int64_t need_kib;
  double order;  // lower is more urgent within an urgency class
  int64_t grant_kib = 0;
};

int64_t Clamp0(int64_t v) { return v < 0 ? 0 : v; }

// Least-squares slope of demand over the points (KiB per second).
double TrendSlope(const std::deque<Point>& points) {
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
    Remember(snapshot);
    const int64_t s_line = params_.starvation_kib;
    const int64_t headroom =
        std::max<int64_t>((params_.waste_kib - params_.starvation_kib) / 2, 0);
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
    };
    std::vector<Idle> idle;
    std::vector<Action> shrinks;

    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      Memory& m = memory_[g.name];
      const int64_t free = g.usable_kib ? *g.usable_kib : *g.unused_kib;
      const int64_t unused = *g.unused_kib;
      const int64_t actual = g.actual_kib;
      const int64_t ceiling = std::max(g.ceiling_kib(), g.limits.floor_kib);
      const double slope = DemandSlope(m);
      const bool rising = slope > kFlatSlopeKibS;
      const bool faulting = Faulting(m);
      const bool starving = free <= s_line || faulting;
      const int64_t swapped = g.swap_out_kib && g.swap_in_kib
                                  ? Clamp0(*g.swap_out_kib - *g.swap_in_kib)
                                  : 0;
      const int64_t min_step = std::max<int64_t>(
          kMinStepKib,
          static_cast<int64_t>(kMinStepFraction * static_cast<double>(actual)));
      const bool moving =
          g.target_kib &&
          std::llabs(*g.target_kib - actual) > kSettleToleranceKib &&
          StillMoving(m);
      const int64_t pending_target =
          g.target_kib && moving ? *g.target_kib : actual;

      // Corrections to the configured bounds come before anything else.
      if (actual > ceiling) {
        shrinks.push_back({g.name, actual, ceiling, Reason::kCeiling});
        continue;
      }

      // Growth.
      const double grow_slope = std::max(slope, 0.0);
      const double ratio = std::min(grow_slope / m.speed_kib_s, kMaxSpeedRatio);
      const double want_free =
          static_cast<double>(s_line + headroom + swapped) +
          grow_slope * interval * (1 + kPlanAheadIntervals);
      const double grant =
          (want_free - static_cast<double>(free)) / (1 - ratio);
      const double horizon = interval + std::max(grant, 0.0) / m.speed_kib_s;
      const bool predicted = static_cast<double>(free) - grow_slope * horizon <
                             static_cast<double>(s_line);
      const int64_t desired = std::min(
          ceiling, actual + static_cast<int64_t>(std::max(grant, 0.0)));
      int64_t need = desired - pending_target;
      if (actual < g.limits.floor_kib && pending_target < g.limits.floor_kib) {
        needs.push_back({&g, Urgency::kFloor, pending_target,
                         std::max(need, g.limits.floor_kib - pending_target),
                         0});
        continue;
      }
      if ((starving || predicted) && pending_target < ceiling) {
        const bool harder =
            !m.free_at_command_kib || free < *m.free_at_command_kib;
        if (!moving || (starving && harder)) {
          if (free <= s_line && need < min_step) {
            need = std::min(min_step, ceiling - pending_target);
          }
          if (need >= min_step ||
              (need > 0 && pending_target + need == ceiling &&
               free <= s_line)) {
            // Within a class, the guest closest to the line goes first.
            const double order = starving
                                     ? static_cast<double>(free - swapped)
                                     : (static_cast<double>(free - s_line)) /
                                           std::max(grow_slope, 1.0);
            needs.push_back({&g,
                             starving ? Urgency::kStarved : Urgency::kPredicted,
                             pending_target, need, order});
          }
        }
        continue;
      }
      if (moving) continue;

      // Reclaim.
      if (rising || starving) continue;
      idle.push_back({&g, unused});
      if (m.above_waste >= kWasteTicks) {
        const int64_t keep = s_line + headroom;
        const int64_t release = unused - keep;
        const int64_t target = std::max(actual - release, g.limits.floor_kib);
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
    int64_t total_need = 0;
    for (const Need& n : needs) total_need += n.need_kib;
    const int64_t unmet = Share(needs, available);

    Plan plan;
    for (const Need& n : needs) {
      if (n.grant_kib <= 0) continue;
      const GuestSample& g = *n.guest;
      const Reason reason = n.urgency == Urgency::kStarved ? Reason::kStarved
                            : n.urgency == Urgency::kPredicted
                                ? Reason::kPredicted
                                : Reason::kFloor;
      plan.actions.push_back(
          {g.name, g.actual_kib, n.from_kib + n.grant_kib, reason});
      Memory& m = memory_[g.name];
      m.free_at_command_kib = g.usable_kib ? *g.usable_kib : *g.unused_kib;
    }

    // While the host is short, idle guests give back more and sooner.
    const int64_t shortfall = std::max(unmet, host_short);
    if (shortfall > 0) {
      std::sort(idle.begin(), idle.end(), [](const Idle& a, const Idle& b) {
        return a.unused_kib > b.unused_kib;
      });
      int64_t freed = 0;
      for (const Idle& i : idle) {
        if (freed >= shortfall) break;
        const GuestSample& g = *i.guest;
        const int64_t release = i.unused_kib - s_line;
        const int64_t target =
            std::max(g.actual_kib - release, g.limits.floor_kib);
        if (g.actual_kib - target < kMinStepKib) continue;
        bool replaced = false;
        for (Action& a : shrinks) {
          if (a.domain == g.name) {
            a.target_kib = std::min(a.target_kib, target);
            a.reason = Reason::kHostPressure;
            replaced = true;
          }
        }
        if (!replaced) {
          shrinks.push_back(
              {g.name, g.actual_kib, target, Reason::kHostPressure});
        }
        // Guardrails let a shrink take at most half of unused.
        freed +=
            std::min(g.actual_kib - target,
                     static_cast<int64_t>(params_.max_release_fraction *
                                          static_cast<double>(i.unused_kib)));
      }
    }
    (void)total_need;
    for (Action& a : shrinks) {
      memory_[a.domain].free_at_command_kib.reset();
      plan.actions.push_back(a);
    }
    return plan;
  }

 private:
  // Appends this snapshot's stats to each guest's history and forgets guests
  // that are gone.
  void Remember(const Snapshot& snapshot) {
    std::map<std::string, Memory> kept;
    for (const GuestSample& g : snapshot.guests) {
      auto it = memory_.find(g.name);
      Memory m = it != memory_.end() ? std::move(it->second) : Memory();
      if (g.has_stats()) {
        const double t = g.stats_time_s.value_or(snapshot.time_s);
        const int64_t free = g.usable_kib ? *g.usable_kib : *g.unused_kib;
        const int64_t actual = g.available_kib.value_or(g.actual_kib);
        Point p{t, actual, actual - free, g.swap_in_kib.value_or(0),
                g.major_faults.value_or(0)};
        if (m.points.empty() || t > m.points.back().time_s) {
          if (!m.points.empty()) LearnSpeed(m, p, g);
          m.points.push_back(p);
          while (m.points.size() > kTrendSamples + 1) m.points.pop_front();
          m.above_waste =
              *g.unused_kib > params_.waste_kib ? m.above_waste + 1 : 0;
        }
      } else {
        // A guest without stats starts its history afresh when they return.
        m.points.clear();
        m.above_waste = 0;
      }
      kept.emplace(g.name, std::move(m));
    }
    memory_ = std::move(kept);
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

  // Grants `available` KiB over `needs` (sorted by urgency): in full when it
  // covers them all; otherwise starving guests first, each class shared by
  // shares x need and filled up to each need. Returns what is left unmet.
  static int64_t Share(std::vector<Need>& needs, int64_t available) {
    int64_t unmet = 0;
    for (int cls = 0; cls <= 2; ++cls) {
      std::vector<Need*> group;
      int64_t group_need = 0;
      for (Need& n : needs) {
        if (static_cast<int>(n.urgency) == cls) {
          group.push_back(&n);
          group_need += n.need_kib;
        }
      }
      if (group.empty()) continue;
      if (group_need <= available) {
        for (Need* n : group) n->grant_kib = n->need_kib;
        available -= group_need;
        continue;
      }
      // Water-fill: guests whose proportional share covers their need take
      // it; the rest is shared again among the others.
      std::vector<Need*> open = group;
      while (!open.empty() && available > 0) {
        double weight = 0;
        for (Need* n : open) {
          weight += static_cast<double>(n->guest->limits.shares) *
                    static_cast<double>(n->need_kib - n->grant_kib);
        }
        if (weight <= 0) break;
        std::vector<Need*> still;
        int64_t given = 0;
        for (Need* n : open) {
          const int64_t left = n->need_kib - n->grant_kib;
          const double w = static_cast<double>(n->guest->limits.shares) *
                           static_cast<double>(left);
          const int64_t share =
              static_cast<int64_t>(static_cast<double>(available) * w / weight);
          const int64_t g = std::min(left, share);
          n->grant_kib += g;
          given += g;
          if (n->grant_kib < n->need_kib) still.push_back(n);
        }
        available -= given;
        if (given == 0 || still.size() == open.size()) break;
        open = std::move(still);
      }
      for (Need* n : group) unmet += n->need_kib - n->grant_kib;
    }
    return unmet;
  }

  PolicyParams params_;
  std::map<std::string, Memory> memory_;
};

}  // namespace

std::unique_ptr<Policy> NewAdaptivePolicy(const PolicyParams& params) {
  return std::make_unique<AdaptivePolicy>(params);
}

}  // namespace memcoord
