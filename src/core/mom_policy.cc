// oVirt MoM's balloon.rules (README "Policies", mom), over the last 10
// samples of the host and of each guest.
//
// When the host's free fraction (MemFree + Buffers + Cached over MemTotal,
// averaged) falls under 20 %, every guest is squeezed toward what it uses plus
// a free share that shrinks with the host's free fraction; otherwise every
// guest below its maximum is grown by 5 % or up to 20 % free, whichever is
// more. MoM moves each guest by at most 5 % of its size per decision when
// shrinking, and ignores changes under 0.25 % of the guest's size.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "memcoord/policy.h"
#include "policies.h"
#include "ring_window.h"

namespace memcoord {
namespace {

constexpr size_t kWindow = 10;               // samples averaged (StatAvg)
constexpr double kPressureThreshold = 0.20;  // host free fraction
constexpr double kPressureCritical = 0.05;
constexpr double kMinGuestFree = 0.20;  // free share a guest wants
constexpr double kMaxChange = 0.05;     // per decision, of actual
constexpr double kMinChange = 0.0025;   // smaller changes are skipped

struct GuestStats {
  int64_t actual_kib;
  int64_t unused_kib;
};

class MomPolicy : public Policy {
 public:
  // MoM's constants are its own; the daemon's thresholds do not apply.
  MomPolicy() = default;
  std::string_view name() const override { return "mom"; }

  Plan Decide(const Snapshot& snapshot) override {
    Remember(snapshot);
    Plan plan;
    if (snapshot.host.total_kib <= 0) return plan;
    double host_free_sum = 0;
    for (int64_t f : host_free_) host_free_sum += static_cast<double>(f);
    const double hfp = host_free_sum / static_cast<double>(host_free_.size()) /
                       static_cast<double>(snapshot.host.total_kib);
    const bool pressure = hfp < kPressureThreshold;
    // Under critical pressure MoM asks for negative free memory, forcing the
    // guest to give up some of what it uses (it will swap).
    const double guest_free =
        hfp <= kPressureCritical ? hfp - kPressureCritical : hfp;

    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      const double actual = static_cast<double>(g.actual_kib);
      const double ceiling = static_cast<double>(g.ceiling_kib());
      const double floor = static_cast<double>(g.limits.floor_kib);
      const double used = UsedAverage(g.name);
      double target;
      if (pressure) {
        target = std::max(std::max(floor, used + guest_free * actual),
                          (1 - kMaxChange) * actual);
        if (target > ceiling) continue;  // MoM only sets sensible targets
      } else {
        if (g.actual_kib >= g.ceiling_kib()) continue;
        target = std::min(ceiling, std::max({(1 + kMaxChange) * actual, floor,
                                             used + kMinGuestFree * actual}));
      }
      const int64_t target_kib = static_cast<int64_t>(std::llround(target));
      if (std::abs(static_cast<double>(target_kib) - actual) <
          kMinChange * actual) {
        continue;
      }
      if (target_kib == g.actual_kib) continue;
      plan.actions.push_back(
          {g.name, g.actual_kib, target_kib,
           pressure ? Reason::kHostPressure : Reason::kBalance});
    }
    return plan;
  }

 private:
  void Remember(const Snapshot& snapshot) {
    const HostSample& h = snapshot.host;
    host_free_.push_back(h.free_kib + h.buffers_kib + h.cached_kib);
    // Updated in place: rebuilding the map would allocate every guest's node
    // on every tick.
    ++remembered_;
    for (const GuestSample& g : snapshot.guests) {
      Window& w = guests_[g.name];
      if (w.seen == remembered_) continue;  // a repeated name: the first counts
      w.seen = remembered_;
      if (g.has_stats()) w.stats.push_back({g.actual_kib, *g.unused_kib});
    }
    // A guest that is gone takes its history with it; one that comes back
    // under the same name starts afresh.
    std::erase_if(guests_, [this](const auto& entry) {
      return entry.second.seen != remembered_;
    });
  }

  // avg(actual) - avg(unused) over the guest's window: what it uses.
  double UsedAverage(const std::string& name) const {
    const RingWindow<GuestStats, kWindow>& w = guests_.at(name).stats;
    double actual = 0, unused = 0;
    for (const GuestStats& s : w) {
      actual += static_cast<double>(s.actual_kib);
      unused += static_cast<double>(s.unused_kib);
    }
    return (actual - unused) / static_cast<double>(w.size());
  }

  RingWindow<int64_t, kWindow> host_free_;
  struct Window {
    RingWindow<GuestStats, kWindow> stats;
    uint64_t seen = 0;  // the Remember() call that last saw the guest
  };
  std::unordered_map<std::string, Window> guests_;
  uint64_t remembered_ = 0;
};

}  // namespace

std::unique_ptr<Policy> NewMomPolicy(const PolicyParams& /*params*/) {
  return std::make_unique<MomPolicy>();
}

}  // namespace memcoord
