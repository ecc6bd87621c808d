// Proxmox VE auto-ballooning (README "Policies", proxmox; AutoBalloon.pm and
// the goal pvestatd feeds it).
//
// The host aims at 80 % used. The distance to that goal is shared out by
// shares over the memory each guest holds above its minimum; pressured guests
// are served first when growing, guests with free memory first when
// shrinking. Each guest moves at most 100 MiB per decision.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "memcoord/policy.h"
#include "policies.h"

namespace memcoord {
namespace {

constexpr double kHostTarget = 0.80;            // fraction of MemTotal in use
constexpr int64_t kDeadBand = 10 * kKibPerMib;  // smaller goals do nothing
constexpr int64_t kMaxChange = 100 * kKibPerMib;
constexpr double kPressuredFreeFraction = 0.25;  // of the guest's minimum

struct Member {
  const GuestSample* guest;
  int64_t min_kib;
  int64_t max_kib;
  int64_t shares;
};

using Targets = std::map<std::string, int64_t>;

// Moves up to `goal` KiB (positive: into guests, negative: out of them) by
// shares among `members`, writing new targets into `targets`. Guests whose
// share lands outside [min, max] are pinned there and the rest is shared
// again among the others, until nothing moves. Returns what could not be
// placed.
int64_t Distribute(const std::vector<Member>& members, int64_t goal,
                   Targets& targets) {
  int64_t rest = goal;
  std::set<std::string> done;
  bool repeat = true;
  int64_t progress = 1;
  while (rest != 0 && repeat && progress != 0) {
    repeat = false;
    progress = 0;
    int64_t shares_total = 0;
    int64_t held = 0;  // sum of (current plan - min) over guests in play
    for (const Member& m : members) {
      if (done.count(m.guest->name)) continue;
      auto it = targets.find(m.guest->name);
      const int64_t now =
          it != targets.end() ? it->second : m.guest->actual_kib;
      held += now - m.min_kib;
      shares_total += m.shares;
    }
    if (shares_total == 0) break;
    const int64_t pool = held + rest;
    int64_t changes = 0;
    for (const Member& m : members) {
      if (done.count(m.guest->name)) continue;
      const int64_t actual = m.guest->actual_kib;
      int64_t desired =
          m.min_kib + static_cast<int64_t>(static_cast<double>(pool) /
                                           static_cast<double>(shares_total) *
                                           static_cast<double>(m.shares));
      if (desired > m.max_kib) {
        desired = m.max_kib;
        repeat = true;
      } else if (desired < m.min_kib) {
        desired = m.min_kib;
        repeat = true;
      }
      int64_t target;
      if (goal > 0 && desired > actual) {
        target = std::min(actual + kMaxChange, desired);
      } else if (desired < actual) {
        // AutoBalloon.pm shrinks a guest above its share even while the host
        // wants memory back in guests: that is how shares rebalance.
        target = std::max(actual - kMaxChange, desired);
      } else {
        done.insert(m.guest->name);
        continue;
      }
      if (target == actual) continue;
      auto it = targets.find(m.guest->name);
      const int64_t before = it != targets.end() ? it->second : actual;
      targets[m.guest->name] = target;
      const int64_t change = target - before;
      if (change != 0) {
        changes += change;
        progress += target > actual ? target - actual : actual - target;
        repeat = true;
      }
    }
    rest -= changes;
  }
  return rest;
}

class ProxmoxPolicy : public Policy {
 public:
  // Proxmox's constants are its own; the daemon's thresholds do not apply.
  ProxmoxPolicy() = default;
  std::string_view name() const override { return "proxmox"; }

  Plan Decide(const Snapshot& snapshot) override {
    const HostSample& h = snapshot.host;
    const int64_t used = h.total_kib - h.available_kib;
    const int64_t goal =
        static_cast<int64_t>(static_cast<double>(h.total_kib) * kHostTarget) -
        used;

    std::vector<Member> all, pressured, roomy;
    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      if (g.limits.shares == 0) continue;  // shares 0: left alone
      Member m{&g, g.limits.floor_kib,
               std::max(g.ceiling_kib(), g.limits.floor_kib), g.limits.shares};
      all.push_back(m);
      const bool has_room =
          static_cast<double>(*g.unused_kib) >
              kPressuredFreeFraction * static_cast<double>(m.min_kib) &&
          g.actual_kib >= m.min_kib;
      (has_room ? roomy : pressured).push_back(m);
    }

    Targets targets;
    if (goal > kDeadBand) {
      const int64_t rest = Distribute(pressured, goal, targets);
      if (rest >= goal) Distribute(all, rest, targets);
    } else if (goal < -kDeadBand) {
      const int64_t rest = Distribute(roomy, goal, targets);
      if (rest <= goal) Distribute(all, rest, targets);
    }

    // Growth first: guardrails grant it in plan order.
    Plan plan;
    for (bool grow : {true, false}) {
      for (const Member& m : all) {
        auto it = targets.find(m.guest->name);
        if (it == targets.end() || it->second == m.guest->actual_kib) continue;
        if ((it->second > m.guest->actual_kib) != grow) continue;
        plan.actions.push_back(
            {m.guest->name, m.guest->actual_kib, it->second, Reason::kBalance});
      }
    }
    return plan;
  }
};

}  // namespace

std::unique_ptr<Policy> NewProxmoxPolicy(const PolicyParams& /*params*/) {
  return std::make_unique<ProxmoxPolicy>();
}

}  // namespace memcoord
