// The adaptive policy: the default. Every tick runs five phases over every
// managed guest with statistics:
//
//   Assess   what each guest's sample and history say: free memory F,
//            demand and its slope, lines, reaction time, headroom it keeps.
//   Needs    what each starved or soon-starved guest must be given.
//   Share    what the host can give, shared by urgency, shares and deficit.
//   Reclaim  what idle guests give back, gradually, down to their headroom.
//   Squeeze  what idle guests give up while the host is short.
//
// The history of each guest (its samples, learned balloon speed, fastest
// growth seen, last commands) is written in one place, Remember(), after the
// plan is made; the phases before it only read. The formulas are in the
// comment above each phase and in the README ("How each policy decides").
#include <algorithm>
#include <cmath>
#include <cstdint>
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
// Guests refresh their balloon statistics once a second (the period libvirt
// is asked for, and the simulator's).
constexpr double kStatsPeriodS = 1.0;
// Lines scale with the guest: a large guest needs more free memory to
// stay out of reclaim (the kernel's watermarks scale the same way).
constexpr double kLineFraction = 0.06;      // starvation line L
constexpr double kCriticalFraction = 0.05;  // critical line C
// Free memory below the waste line costs nothing to hold: every guest keeps
// this fraction of the waste line at least, and a grant fills up to it.
constexpr double kKeepFraction = 0.9;
// Growth rate a guest is assumed able to start at any moment (a build, a
// JVM filling its heap, a batch job) until it, or another guest of the
// host, has been seen growing faster.
constexpr double kPriorRateKibS = 96.0 * kKibPerMib;
// The fastest growth seen on a guest is remembered with this half-life.
constexpr double kRateHalfLifeS = 120;
// From a decision to the balloon's first delivered MiB (command, driver).
constexpr double kCommandLagS = 0.25;
// Headroom above the keep line is held only while the host's spare memory
// covers it this many times over; it shrinks in proportion below that.
constexpr double kEaseCover = 2.0;
// Reclaim when unused exceeds the waste line by half a minimum step, after
// one sample; a guest grown in the last kRecentTicks decisions must stay
// above the line for kWasteTicksAfterGrow samples, as its workload may only
// have paused.
constexpr double kExcessSteps = 0.5;
constexpr int kWasteTicks = 1;
constexpr int kWasteTicksAfterGrow = 3;
constexpr int64_t kRecentTicks = 5;
// A guest still releasing memory is reclaimed once this many intervals of its
// release have piled up.
constexpr double kReleaseBatchIntervals = 3;
// Headroom above the keep line is trimmed once a guest holds more than it
// needs by half of that part, and topped up once it holds less by a quarter
// of it: a missing part is a risk, a surplus only a cost.
constexpr double kTrimFraction = 0.5;
constexpr double kTopUpFraction = 0.25;
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

// What the policy remembers of a guest between ticks.
struct Memory {
  History points;
  int above_waste = 0;
  double speed_kib_s = kDefaultSpeedKibS;
  bool speed_measured = false;  // a move was seen that took a whole step
  double slope_kib_s = 0;       // DemandSlope() of the points
  double peak_rate_kib_s = 0;   // fastest demand growth seen, decayed
  // Free memory when the last grow was sent, for "starving harder".
  std::optional<int64_t> free_at_command_kib;
  std::optional<int64_t> last_grow_tick;
  std::optional<int64_t> last_squeeze_tick;  // host pressure squeezed it
  uint64_t seen = 0;  // the Remember() call that last saw the guest
};

// What Assess decides a guest's part in this tick is.
enum class Role {
  kCeiling,  // above its configured ceiling: lowered to it
  kFloor,    // below its floor: raised to it
  kGrow,     // starved or predicted to starve: Needs
  kLend,     // growing with far more free than it needs: may lend
  kIdle,     // demand flat: Reclaim, and Squeeze when the host is short
  kWait,     // its balloon is still moving, or it was just squeezed
};

// What one sample teaches about a guest, on top of its record.
struct Observation {
  bool fresh = false;  // stats newer than the record's last point
  Point point{};       // the new point, when fresh
  double speed_kib_s = kDefaultSpeedKibS;
  bool speed_measured = false;
  double slope_kib_s = 0;  // DemandSlope() with the new point
  double onset_kib_s = 0;  // OnsetRate() with the new point
  double peak_rate_kib_s = 0;
  int above_waste = 0;
  bool faulting = false;
  bool still_moving = true;
  bool squeezed_now = false;  // set by Squeeze: the host took memory now
};

// The command a guest was given this tick.
enum class Command { kNone, kGrow, kShrink };

// One guest as Assess sees it. Sizes KiB, rates KiB/s, times s.
struct View {
  const GuestSample* guest;
  Memory* record;  // the policy's record of the guest, written by Remember
  Role role = Role::kWait;
  Command command = Command::kNone;
  // What this sample adds to the record (Remember writes it).
  Observation seen;
  int64_t free = 0;      // F: usable when reported, else unused
  int64_t unused = 0;    // U
  int64_t spare = 0;     // min(U, F): what a shrink may take
  int64_t line = 0;      // L
  int64_t critical = 0;  // C
  int64_t swapped = 0;   // X: swap out - swap in
  int64_t min_step = 0;
  int64_t from = 0;           // where a change starts (a pending target counts)
  double free_after = 0;      // F once the pending target is delivered
  double slope = 0;           // s+: demand growth, 0 when falling
  double fall = 0;            // demand release rate, 0 when rising or flat
  double reaction_s = 0;      // T: until growth decided now starts to arrive
  bool starved = false;       // F <= L, or critical
  bool rising = false;        // demand grows faster than the stats' rounding
  bool critical_now = false;  // F <= C, or swapping in, or major faults
  bool predicted = false;     // would cross L before the next decision
  bool moving = false;        // balloon still on its way to the last target
  bool recently_grown = false;
  bool squeezed = false;  // squeezed for the host lately, demand flat
  int64_t keep = 0;       // unused an idle guest keeps (headroom, eased)
  int64_t extra = 0;      // the part of its headroom above K0 it wants
};

// Growth classes, most urgent first: critical; starved and rising; predicted
// to starve; starved but flat (its demand does not move, so it can wait for
// the ones that do); short of burst headroom; below the floor.
enum class Urgency {
  kCritical = 0,
  kStarved = 1,
  kPredicted = 2,
  kLow = 3,
  kHeadroom = 4,
  kFloor = 5,
};
constexpr int kUrgencyCount = 6;

struct Need {
  View* view;
  Urgency urgency;
  int64_t need_kib;
  int64_t urgent_kib;  // the part that keeps it off its critical line
  double order;        // lower is more urgent within an urgency class
  int64_t grant_kib = 0;
};

// A guest that may give memory up while the host is short.
struct Donor {
  View* view;
  int64_t keep_kib;  // unused it keeps however short the host is
};

// What the host can give this tick.
struct HostView {
  int64_t available_kib = 0;  // for growth: above the reserve and budget
  int64_t short_kib = 0;      // below the reserve (> 0: short)
};

int64_t Clamp0(int64_t v) { return v < 0 ? 0 : v; }
int64_t Kib(double v) { return static_cast<int64_t>(v); }

// F: usable when the guest reports it (page cache counts as free), else
// unused. The guest must have stats.
int64_t FreeOf(const GuestSample& g) {
  return g.usable_kib ? *g.usable_kib : *g.unused_kib;
}

// L = max(starvation, 6 % of actual): the starvation line scales with the
// guest.
int64_t LineOf(const GuestSample& g, const PolicyParams& params) {
  return std::max<int64_t>(
      params.starvation_kib,
      Kib(kLineFraction * static_cast<double>(g.actual_kib)));
}

// A guest's last points with this sample's point after them (when it is
// new), read in place: the last kTrendSamples + 1 of them, oldest first.
class Recent {
 public:
  Recent(const History& history, const Point* latest)
      : history_(history),
        latest_(latest),
        skip_(latest && history.size() == kTrendSamples + 1 ? 1 : 0) {}
  size_t size() const {
    return history_.size() - skip_ + (latest_ != nullptr ? 1 : 0);
  }
  const Point& operator[](size_t i) const {
    i += skip_;
    return i < history_.size() ? history_[i] : *latest_;
  }
  const Point& back() const { return (*this)[size() - 1]; }

 private:
  const History& history_;
  const Point* latest_;
  size_t skip_;
};

// Least-squares slope of demand over the points (KiB per second).
double TrendSlope(const Recent& points) {
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

// The larger of the last step's slope and the trend: a burst shows in the
// last step before the fit catches up.
double DemandSlope(const Recent& points) {
  if (points.size() < 2) return 0;
  const Point& a = points[points.size() - 2];
  const Point& b = points.back();
  const double last = static_cast<double>(b.demand_kib - a.demand_kib) /
                      std::max(b.time_s - a.time_s, 1e-3);
  return std::max(last, TrendSlope(points));
}

// Demand growth that started since the sample before: it began at some
// moment of the last step, so the step's average understates it; it is taken
// to have taken at least one stats period. Zero unless the step before was
// flat (or there is none) and this one rises.
double OnsetRate(const Recent& points) {
  if (points.size() < 2) return 0;
  const Point& a = points[points.size() - 2];
  const Point& b = points.back();
  const double dt = b.time_s - a.time_s;
  const double grew = static_cast<double>(b.demand_kib - a.demand_kib);
  if (dt <= 0 || grew <= kFlatSlopeKibS * dt) return 0;
  if (points.size() >= 3) {
    const Point& before = points[points.size() - 3];
    const double dt0 = a.time_s - before.time_s;
    if (dt0 > 0 && static_cast<double>(a.demand_kib - before.demand_kib) >
                       kFlatSlopeKibS * dt0) {
      return 0;
    }
  }
  return grew / std::min(dt, kStatsPeriodS);
}

bool Faulting(const Recent& points) {
  if (points.size() < 2) return false;
  const Point& a = points[points.size() - 2];
  const Point& b = points.back();
  return b.swap_in_kib > a.swap_in_kib || b.major_faults > a.major_faults;
}

// False when the balloon stood still over the last sample: it will not
// reach its target (a shrink stops where the guest's memory is in use).
bool StillMoving(const Recent& points) {
  if (points.size() < 2) return true;
  const Point& a = points[points.size() - 2];
  const Point& b = points.back();
  return std::llabs(b.actual_kib - a.actual_kib) > kSettleToleranceKib;
}

// A balloon that moved the whole time between two samples shows its speed
// (`measured`); one that arrived early shows a lower bound.
void LearnSpeed(double& speed, bool& measured, const Point& last,
                const Point& p, const GuestSample& g) {
  const double dt = p.time_s - last.time_s;
  const double moved =
      static_cast<double>(std::llabs(p.actual_kib - last.actual_kib));
  if (dt <= 0 || moved < static_cast<double>(kSettleToleranceKib)) return;
  const bool arrived =
      !g.target_kib ||
      std::llabs(*g.target_kib - p.actual_kib) <= kSettleToleranceKib;
  if (arrived) {
    speed = std::max(speed, moved / dt);
  } else {
    speed = moved / dt;
    measured = true;
  }
}

class AdaptivePolicy : public Policy {
 public:
  explicit AdaptivePolicy(const PolicyParams& params)
      : params_(params), interval_s_(std::max(params.interval_s, 0.1)) {}
  std::string_view name() const override { return "adaptive"; }

  // Starved at F <= L (F usable when reported, else unused; L the line that
  // scales with the guest), wasteful when unused passes the waste line: what
  // Assess and Reclaim judge by.
  GuestClass Classify(const GuestSample& g,
                      const PolicyParams& /*params*/) const override {
    if (!g.has_stats()) return GuestClass::kUnknown;
    if (FreeOf(g) <= LineOf(g, params_)) return GuestClass::kStarved;
    if (*g.unused_kib >= params_.waste_kib) return GuestClass::kWasteful;
    return GuestClass::kOk;
  }

  Plan Decide(const Snapshot& snapshot) override {
    ++tick_;
    const HostView host = AssessHost(snapshot);
    std::vector<View>& views = Assess(snapshot);
    Ease(views, host);
    std::vector<Need> needs = Needs(views);
    Share(needs, host.available_kib);
    Plan plan;
    const int64_t unmet = Grants(needs, plan);
    std::vector<Action> shrinks = Reclaim(views);
    const int64_t shortfall = unmet + Clamp0(host.short_kib);
    Squeeze(views, shortfall, shrinks);
    for (Action& a : shrinks) plan.actions.push_back(std::move(a));
    Remember(snapshot, views, shortfall > 0);
    return plan;
  }

 private:
  // Host. Growth is paid from host free above the reserve R and from the
  // guest budget B, both less growth already promised to balloons still
  // moving (P = sum over guests of max(target - actual, 0)):
  //   available = max(0, min(free - P - R, B - sum(actual) - P))
  //   short     = R - (free - P)
  HostView AssessHost(const Snapshot& snapshot) const {
    int64_t pending = 0, sum_actual = 0;
    for (const GuestSample& g : snapshot.guests) {
      sum_actual += g.actual_kib;
      if (g.target_kib) pending += Clamp0(*g.target_kib - g.actual_kib);
    }
    HostView h;
    h.short_kib =
        params_.host_min_free_kib - (snapshot.host.available_kib - pending);
    int64_t available = -h.short_kib;
    if (snapshot.guest_budget_kib) {
      available = std::min(available,
                           *snapshot.guest_budget_kib - sum_actual - pending);
    }
    h.available_kib = Clamp0(available);
    return h;
  }

  // Assess, per guest (sizes of actual A):
  //   F = usable if reported, else unused; demand D = A - F (what the guest
  //   holds and cannot give back; it does not move when the balloon does);
  //   s = max(last step of D, least-squares slope of D over 4 samples);
  //       growth that starts after a flat step is taken to have taken one
  //       stats period at least (the step's average understates a burst);
  //   L = max(starvation, 6 % A); C = max(guest_min_unused, 5 % A);
  //   X = swap out - swap in (what the guest has in swap);
  //   T = I + stats age + command lag: how long memory taken now lasts
  //       before growth decided on the next sample can arrive;
  //   critical: F <= C, or swapping in, or major faults;
  //   starved:  F <= L (or critical);
  //   predicted: s > 0 and F' - s*T < L, where F' = F + (pending target - A),
  //              i.e. the line would be crossed before growth could arrive.
  // Assess only finds each guest's record (adding an empty one for a new
  // guest); what a sample teaches goes into View::seen, which Remember
  // writes into the record.
  std::vector<View>& Assess(const Snapshot& snapshot) {
    // One buffer for every tick: a fresh vector of views would be mapped
    // and faulted in anew on a large host each tick.
    std::vector<View>& views = views_;
    views.clear();
    views.reserve(snapshot.guests.size());
    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      View& v = views.emplace_back();
      v.guest = &g;
      v.record = &memory_[g.name];
      v.seen = Observe(snapshot, g, *v.record);
      AssessGuest(snapshot, g, v);
    }
    return views;
  }

  // The memory of a guest after this sample: its point, learned speed,
  // fastest growth and samples above the waste line.
  Observation Observe(const Snapshot& snapshot, const GuestSample& g,
                      const Memory& m) const {
    Observation o;
    o.speed_kib_s = m.speed_kib_s;
    o.speed_measured = m.speed_measured;
    o.slope_kib_s = m.slope_kib_s;
    o.peak_rate_kib_s = m.peak_rate_kib_s;
    o.above_waste = m.above_waste;
    const double t = g.stats_time_s.value_or(snapshot.time_s);
    const int64_t free = FreeOf(g);
    const int64_t actual = g.kernel_total_kib();
    o.point = {t, actual, actual - free, g.swap_in_kib.value_or(0),
               g.major_faults.value_or(0)};
    o.fresh = m.points.empty() || t > m.points.back().time_s;
    const Recent points(m.points, o.fresh ? &o.point : nullptr);
    if (o.fresh) {
      if (!m.points.empty()) {
        const double dt = t - m.points.back().time_s;
        LearnSpeed(o.speed_kib_s, o.speed_measured, m.points.back(), o.point,
                   g);
        if (o.peak_rate_kib_s > 0) {
          o.peak_rate_kib_s *= std::exp2(-dt / kRateHalfLifeS);
        }
      }
      o.slope_kib_s = DemandSlope(points);
      o.peak_rate_kib_s = std::max(o.peak_rate_kib_s, o.slope_kib_s);
      o.above_waste = *g.unused_kib > params_.waste_kib ? o.above_waste + 1 : 0;
    }
    o.onset_kib_s = OnsetRate(points);
    o.faulting = Faulting(points);
    o.still_moving = StillMoving(points);
    return o;
  }

  void AssessGuest(const Snapshot& snapshot, const GuestSample& g,
                   View& v) const {
    const Memory& m = *v.record;
    const Observation& o = v.seen;
    const int64_t actual = g.actual_kib;
    const double actual_d = static_cast<double>(actual);
    v.free = FreeOf(g);
    v.unused = *g.unused_kib;
    // A kernel keeps part of its free memory in reserve, so usable may read
    // below unused; what a shrink may take is judged on the signal that
    // judges starvation, or a shrink makes the guest look starved and it is
    // grown back the next tick.
    v.spare = std::min(v.unused, v.free);
    v.line = LineOf(g, params_);
    v.critical = std::max<int64_t>(params_.guest_min_unused_kib,
                                   Kib(kCriticalFraction * actual_d));
    v.swapped = g.swap_out_kib && g.swap_in_kib
                    ? Clamp0(*g.swap_out_kib - *g.swap_in_kib)
                    : 0;
    v.min_step =
        std::max<int64_t>(kMinStepKib, Kib(kMinStepFraction * actual_d));
    const double raw_slope = o.slope_kib_s;
    const bool rising = raw_slope > kFlatSlopeKibS;
    v.rising = rising;
    v.slope = std::max(raw_slope, o.onset_kib_s);
    v.fall = raw_slope < -kFlatSlopeKibS ? -raw_slope : 0.0;
    const double age =
        std::clamp(snapshot.time_s - g.stats_time_s.value_or(snapshot.time_s),
                   0.0, interval_s_);
    v.reaction_s = interval_s_ + age + kCommandLagS;
    const bool faulting = o.faulting;
    v.critical_now = v.free <= v.critical || faulting;
    v.starved = v.critical_now || v.free <= v.line;
    const int64_t tolerance =
        std::max<int64_t>(kSettleToleranceKib,
                          Kib(kSettleFraction * o.speed_kib_s * interval_s_));
    v.moving = g.target_kib && std::llabs(*g.target_kib - actual) > tolerance &&
               o.still_moving;
    v.from = v.moving ? *g.target_kib : actual;
    v.free_after = static_cast<double>(v.free + (v.from - actual));
    v.predicted = rising && v.free_after - v.slope * v.reaction_s <
                                static_cast<double>(v.line);
    v.recently_grown =
        m.last_grow_tick && tick_ - *m.last_grow_tick <= kRecentTicks;
    // A guest squeezed for the host stays squeezed while its demand is flat
    // and it does not fault, for a few ticks and for as long as the host
    // stays short: regrowing it would take back what a needier guest was
    // just given. Its free memory may read low (a kernel keeps part of
    // MemFree out of MemAvailable), but nothing in it is asking for more.
    v.squeezed =
        m.last_squeeze_tick &&
        (tick_ - *m.last_squeeze_tick <= kRecentTicks || short_last_tick_) &&
        !rising && !faulting;
    const int64_t floor = g.limits.floor_kib;
    const int64_t ceiling = std::max(g.ceiling_kib(), floor);
    if (actual > ceiling) {
      v.role = Role::kCeiling;
    } else if (v.from < floor) {
      v.role = Role::kFloor;
    } else if ((v.starved || v.predicted) && v.from < ceiling && !v.squeezed) {
      v.role = Role::kGrow;
    } else if (rising && !v.moving && !v.starved) {
      v.role = Role::kLend;
    } else if (v.moving || rising || (v.starved && !v.squeezed)) {
      v.role = Role::kWait;
    } else {
      v.role = Role::kIdle;
    }
  }

  // Headroom. Memory a guest takes between two decisions must already be
  // free in it, so every guest keeps
  //   want = C + X + h*T + (1 - v/h)+ * max(R - h*T, 0)
  // where h = max(a prior of 96 MiB/s, the fastest growth seen on any guest
  // of the host, decayed with a 120 s half-life: guests of one host tend to
  // run the same kind of work), v its balloon speed once measured and
  // R = ceiling - used the room its demand can still grow into. h*T is what
  // a burst takes before growth decided next can arrive. A balloon slower
  // than the burst falls further behind for as long as the burst lasts, and
  // a burst lasts at most until demand meets the ceiling: the last term is
  // what the balloon cannot deliver of that rest, h - v of every h. Until a
  // move shows its speed, a balloon is not taken to be slower. Below
  // K0 = max(0.9 W, L + 16 MiB) holding memory costs nothing; the part above
  // K0 is held only as far as the host can spare it:
  //   keep = K0 + e * max(want - K0, 0),
  //   e = min(1, pool / (2 * sum of the parts above K0)),
  // pool = what the host can give plus the parts above K0 guests hold now.
  // So a roomy host leaves idle guests enough to survive a burst until the
  // next decision, and a tight one takes it back before anyone starves.
  void Ease(std::vector<View>& views, const HostView& host) const {
    double h = kPriorRateKibS;
    for (const View& v : views) h = std::max(h, v.seen.peak_rate_kib_s);
    double wanted = 0, pool = static_cast<double>(host.available_kib);
    for (View& v : views) {
      const double ahead = h * v.reaction_s;
      double behind = 0;
      if (v.seen.speed_measured && v.seen.speed_kib_s < h) {
        const GuestSample& g = *v.guest;
        const int64_t ceiling = std::max(g.ceiling_kib(), g.limits.floor_kib);
        const double used = static_cast<double>(g.actual_kib - v.free);
        const double room = static_cast<double>(ceiling) - used - ahead;
        behind = (1.0 - v.seen.speed_kib_s / h) * std::max(room, 0.0);
      }
      const double want =
          static_cast<double>(v.critical + v.swapped) + ahead + behind;
      v.extra = Clamp0(Kib(want) - KeepLine(v));
      wanted += static_cast<double>(v.extra);
      pool += static_cast<double>(
          std::clamp<int64_t>(v.spare - KeepLine(v), 0, v.extra));
    }
    const double e =
        wanted > 0 ? std::min(1.0, pool / (kEaseCover * wanted)) : 1.0;
    for (View& v : views) {
      v.keep = KeepLine(v) + Kib(e * static_cast<double>(v.extra));
    }
  }

  // K0 = max(0.9 W, L + 16 MiB): what every guest keeps at least.
  int64_t KeepLine(const View& v) const {
    return std::max(Kib(kKeepFraction * static_cast<double>(params_.waste_kib)),
                    v.line + kSqueezeMarginKib);
  }

  // Needs. A guest below its floor needs floor - A. A growing guest is given
  //   G = max(L + X, keep) + s*(T + settle) - F'
  // so it keeps its headroom after what its demand takes until growth
  // decided next can arrive; settle = min(I, G0/v) is the time the balloon
  // needs for the first-order grant G0 (the same with settle = 0). The
  // urgent part, C + X + s*(T + settle) - F', only keeps it off its
  // critical line. A guest whose balloon has not
  // settled gets nothing new unless it starves harder than at its last
  // grow. Changes under the minimum step are dropped, except for a guest at
  // its line (at least one step) or one reaching its ceiling.
  std::vector<Need> Needs(std::vector<View>& views) const {
    std::vector<Need> needs;
    for (View& v : views) {
      const GuestSample& g = *v.guest;
      if (v.role == Role::kFloor) {
        const int64_t need = g.limits.floor_kib - v.from;
        needs.push_back({&v, Urgency::kFloor, need, need, 0});
        continue;
      }
      if (v.role == Role::kIdle) {
        if (auto n = HeadroomNeed(v)) needs.push_back(*n);
        continue;
      }
      if (v.role != Role::kGrow) continue;
      const Memory& m = *v.record;
      const bool harder =
          !m.free_at_command_kib || v.free < *m.free_at_command_kib;
      if (v.moving && !(v.starved && harder)) continue;
      const int64_t ceiling = std::max(g.ceiling_kib(), g.limits.floor_kib);
      const double goal =
          static_cast<double>(std::max(v.line + v.swapped, v.keep));
      const double first = goal + v.slope * v.reaction_s - v.free_after;
      const double settle =
          std::min(interval_s_, std::max(first, 0.0) / v.seen.speed_kib_s);
      const double lasts = v.slope * (v.reaction_s + settle);
      const double grant = goal + lasts - v.free_after;
      const double urgent =
          static_cast<double>(v.critical + v.swapped) + lasts - v.free_after;
      int64_t need =
          std::min(ceiling, v.from + Kib(std::max(grant, 0.0))) - v.from;
      // A guest at the line gets at least a minimum step; one whose free
      // memory is only low in its stats (its pending grant covers it) or
      // that only faults its swap back in does not.
      if (v.free_after <= static_cast<double>(v.line) && need < v.min_step) {
        need = std::min(v.min_step, ceiling - v.from);
      }
      if (need < v.min_step && !(need > 0 && v.from + need == ceiling)) {
        continue;
      }
      // Within a class, the guest closest to its line goes first.
      const double order =
          v.predicted && !v.starved
              ? (v.free_after - static_cast<double>(v.line)) /
                    std::max(v.slope, 1.0)
              : static_cast<double>(v.free - v.swapped - v.critical);
      const Urgency u = v.critical_now              ? Urgency::kCritical
                        : v.starved && v.rising     ? Urgency::kStarved
                        : v.starved && !v.predicted ? Urgency::kLow
                                                    : Urgency::kPredicted;
      needs.push_back(
          {&v, u, need, std::min(need, Clamp0(Kib(std::ceil(urgent)))), order});
    }
    std::stable_sort(needs.begin(), needs.end(),
                     [](const Need& a, const Need& b) {
                       if (a.urgency != b.urgency) return a.urgency < b.urgency;
                       return a.order < b.order;
                     });
    return needs;
  }

  // An idle guest whose free memory is short of its headroom by a quarter
  // of the part above K0 (and a minimum step) is given the headroom while the
  // host can spare it: a burst would otherwise outrun the next decision. It has
  // no urgent part, so it never makes another guest give memory up.
  std::optional<Need> HeadroomNeed(View& v) const {
    if (v.moving || v.squeezed || v.starved) return std::nullopt;
    const double short_by = static_cast<double>(v.keep) - v.free_after;
    const double band =
        std::max(static_cast<double>(v.min_step),
                 kTopUpFraction * static_cast<double>(v.keep - KeepLine(v)));
    if (short_by < band) return std::nullopt;
    const GuestSample& g = *v.guest;
    const int64_t ceiling = std::max(g.ceiling_kib(), g.limits.floor_kib);
    const int64_t need = std::min(ceiling, v.from + Kib(short_by)) - v.from;
    if (need < v.min_step) return std::nullopt;
    return Need{&v, Urgency::kHeadroom, need, 0, -short_by};
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
        weight += static_cast<double>(n->view->guest->limits.shares) *
                  static_cast<double>(cap(*n) - n->grant_kib);
      }
      if (weight <= 0) break;
      std::vector<Need*> still;
      int64_t given = 0;
      for (Need* n : open) {
        const int64_t left = cap(*n) - n->grant_kib;
        const double w = static_cast<double>(n->view->guest->limits.shares) *
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

  // Share. First every guest gets its urgent part; then the rest of each
  // need, class by class (Urgency: critical, starved and rising, predicted,
  // starved but flat, headroom, floor). Within
  // each round memory goes by shares x what is still missing, water-filled.
  static void Share(std::vector<Need>& needs, int64_t available) {
    std::vector<Need*> all;
    all.reserve(needs.size());
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

  // Grow actions, most urgent first (guardrails grant growth in plan order).
  // A sliver of host memory is not worth a command: the guest waits for the
  // next decision, when reclaim may have freed more. Returns the urgent
  // growth that went unmet.
  static int64_t Grants(const std::vector<Need>& needs, Plan& plan) {
    int64_t unmet = 0;
    for (const Need& n : needs) {
      unmet += Clamp0(n.urgent_kib - n.grant_kib);
      View& v = *n.view;
      if (n.grant_kib < std::min(n.need_kib, v.min_step)) continue;
      v.command = Command::kGrow;
      const Reason reason =
          n.urgency == Urgency::kPredicted || n.urgency == Urgency::kHeadroom
              ? Reason::kPredicted
          : n.urgency == Urgency::kFloor ? Reason::kFloor
                                         : Reason::kStarved;
      plan.actions.push_back(
          {v.guest->name, v.guest->actual_kib, v.from + n.grant_kib, reason});
    }
    return unmet;
  }

  // Reclaim. A guest above its ceiling is lowered to it. An idle guest
  // whose unused exceeds W by half a minimum step gives back down to its
  // headroom: target = A - (min(U, F) - keep'), at least the floor, where
  // keep' = max(keep - r*T, L + 16 MiB) for a guest still releasing at r
  // KiB/s: what it frees before the balloon arrives refills its headroom;
  // and it is reclaimed only once r * 3I has piled up, so a slow release
  // costs a command every third tick rather than every tick. Headroom above K0
  // is trimmed only once it exceeds its need by half of that part. Guardrails
  // release at most half of unused per step, so this is gradual. A guest grown
  // in the last 5 decisions must stay above W for 3 samples first: its workload
  // may only have paused.
  std::vector<Action> Reclaim(std::vector<View>& views) const {
    std::vector<Action> shrinks;
    for (View& v : views) {
      const GuestSample& g = *v.guest;
      if (v.role == Role::kCeiling) {
        shrinks.push_back({g.name, g.actual_kib,
                           std::max(g.ceiling_kib(), g.limits.floor_kib),
                           Reason::kCeiling});
        v.command = Command::kShrink;
        continue;
      }
      if (v.role != Role::kIdle) continue;
      const int waste_ticks =
          v.recently_grown ? kWasteTicksAfterGrow : kWasteTicks;
      if (v.seen.above_waste < waste_ticks ||
          static_cast<double>(v.unused - params_.waste_kib) <
              kExcessSteps * static_cast<double>(v.min_step)) {
        continue;
      }
      // A guest still releasing memory frees what it releases until the
      // balloon arrives: leave it less, down to the keep line.
      const int64_t keep = std::max(v.keep - Kib(v.fall * v.reaction_s),
                                    v.line + kSqueezeMarginKib);
      const int64_t target =
          std::max(g.actual_kib - (v.spare - keep), g.limits.floor_kib);
      // While it releases, one command per three intervals of release, not
      // one per tick; and headroom held for bursts is not trimmed by every
      // small decay of the rates it was sized for.
      const int64_t step = std::max(
          {v.min_step, Kib(v.fall * kReleaseBatchIntervals * interval_s_),
           Kib(kTrimFraction * static_cast<double>(v.keep - KeepLine(v)))});
      if (g.actual_kib - target >= step) {
        shrinks.push_back({g.name, g.actual_kib, target, Reason::kReclaim});
        v.command = Command::kShrink;
      }
    }
    return shrinks;
  }

  // Squeeze. While urgent needs go unmet or the host is under its reserve
  // (shortfall S > 0), idle guests give up memory down to C + 16 MiB unused,
  // and growing guests lend what exceeds C + 16 MiB + s*T (what keeps them
  // off their critical line until growth decided next can arrive); the
  // most spare first, until what
  // the guardrails let them release (half of unused per step) covers S.
  void Squeeze(std::vector<View>& views, int64_t shortfall,
               std::vector<Action>& shrinks) const {
    if (shortfall <= 0) return;
    std::vector<Donor> donors;
    for (View& v : views) {
      if (v.role == Role::kIdle && !v.recently_grown) {
        const int64_t keep = v.critical + kSqueezeMarginKib;
        if (v.unused > keep) donors.push_back({&v, keep});
      } else if (v.role == Role::kLend) {
        const double keep_free =
            static_cast<double>(v.critical + kSqueezeMarginKib) +
            v.slope * v.reaction_s;
        const int64_t excess = v.free - Kib(std::ceil(keep_free));
        if (excess >= v.min_step) donors.push_back({&v, v.unused - excess});
      }
    }
    std::sort(donors.begin(), donors.end(), [](const Donor& a, const Donor& b) {
      return a.view->unused - a.keep_kib > b.view->unused - b.keep_kib;
    });
    // A guest has at most one shrink so far (a ceiling or a reclaim). The
    // keys view the names inside `shrinks`: the loop below appends at most
    // one shrink per donor, and must never reallocate under them.
    shrinks.reserve(shrinks.size() + donors.size());
    std::unordered_map<std::string_view, size_t> shrink_of;
    shrink_of.reserve(shrinks.size());
    for (size_t k = 0; k < shrinks.size(); ++k) {
      shrink_of.emplace(shrinks[k].domain, k);
    }
    int64_t freed = 0;
    for (const Donor& d : donors) {
      if (freed >= shortfall) break;
      const GuestSample& g = *d.view->guest;
      const int64_t target = std::max(
          g.actual_kib - (d.view->unused - d.keep_kib), g.limits.floor_kib);
      if (g.actual_kib - target < kMinStepKib) continue;
      d.view->seen.squeezed_now = true;
      d.view->command = Command::kShrink;
      auto merged = shrink_of.find(g.name);
      if (merged != shrink_of.end()) {
        Action& a = shrinks[merged->second];
        a.target_kib = std::min(a.target_kib, target);
        a.reason = Reason::kHostPressure;
      } else {
        shrinks.push_back(
            {g.name, g.actual_kib, target, Reason::kHostPressure});
      }
      // Guardrails let one shrink take at most this much.
      freed += std::min(g.actual_kib - target,
                        Kib(params_.max_release_fraction *
                            static_cast<double>(d.view->unused)));
    }
  }

  // The one place the history changes: each assessed guest's memory after
  // this tick and the commands it was sent, and whether the host was short;
  // guests that are gone are forgotten. Updated in
  // place: rebuilding the map would allocate every guest's node every tick.
  void Remember(const Snapshot& snapshot, std::vector<View>& views,
                bool short_now) {
    ++remembered_;
    short_last_tick_ = short_now;
    size_t kept = 0;
    for (View& v : views) {
      Memory& m = *v.record;
      if (m.seen == remembered_) continue;  // a repeated name: the first counts
      const Observation& o = v.seen;
      if (o.fresh) m.points.push_back(o.point);
      m.speed_kib_s = o.speed_kib_s;
      m.speed_measured = o.speed_measured;
      m.slope_kib_s = o.slope_kib_s;
      m.peak_rate_kib_s = o.peak_rate_kib_s;
      m.above_waste = o.above_waste;
      if (o.squeezed_now) m.last_squeeze_tick = tick_;
      m.seen = remembered_;
      ++kept;
      if (v.command == Command::kGrow) {
        m.free_at_command_kib = v.free;
        m.last_grow_tick = tick_;
      } else if (v.command == Command::kShrink) {
        m.free_at_command_kib.reset();
      }
    }
    // A guest that was not assessed (no stats, or unmanaged) starts afresh
    // when it is assessed again.
    for (const GuestSample& g : snapshot.guests) {
      if (g.has_stats() && g.limits.managed) continue;
      Memory& m = memory_[g.name];
      if (m.seen == remembered_) continue;
      m = Memory{};
      m.seen = remembered_;
      ++kept;
    }
    // Every record was seen: no guest is gone, nothing to scan for.
    if (kept == memory_.size()) return;
    std::erase_if(memory_, [this](const auto& entry) {
      return entry.second.seen != remembered_;
    });
  }

  PolicyParams params_;
  double interval_s_;
  int64_t tick_ = 0;
  std::unordered_map<std::string, Memory> memory_;
  uint64_t remembered_ = 0;
  bool short_last_tick_ = false;  // urgent needs unmet, or host under reserve
  std::vector<View> views_;       // this tick's; points into the snapshot
};

}  // namespace

std::unique_ptr<Policy> NewAdaptivePolicy(const PolicyParams& params) {
  return std::make_unique<AdaptivePolicy>(params);
}

}  // namespace memcoord
