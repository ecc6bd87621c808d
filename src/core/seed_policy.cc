// The classic assignment's algorithm, kept exactly (README "Policies", seed).
// It moves memory for at most one starved/wasteful pair per tick.
#include <memory>

#include "memcoord/policy.h"
#include "policies.h"

namespace memcoord {
namespace {

class SeedPolicy : public Policy {
 public:
  explicit SeedPolicy(const PolicyParams& params) : params_(params) {}
  std::string_view name() const override { return "seed"; }

  Plan Decide(const Snapshot& snapshot) override {
    const GuestSample* starved = nullptr;
    const GuestSample* wasteful = nullptr;
    for (const GuestSample& g : snapshot.guests) {
      if (!g.has_stats() || !g.limits.managed) continue;
      // Strict comparisons keep the first guest on ties, so the choice is
      // stable across ticks.
      if (!starved || *g.unused_kib < *starved->unused_kib) starved = &g;
      if (!wasteful || *g.unused_kib > *wasteful->unused_kib) wasteful = &g;
    }
    Plan plan;
    if (!starved) return plan;
    const int64_t kStep = MibToKib(300);
    if (*starved->unused_kib <= params_.starvation_kib) {
      if (wasteful != starved && *wasteful->unused_kib >= params_.waste_kib) {
        int64_t give = *wasteful->unused_kib / 2;
        // The grow is listed first: guardrails grant growth in plan order.
        plan.actions.push_back({starved->name, starved->actual_kib,
                                starved->actual_kib + give, Reason::kStarved});
        plan.actions.push_back({wasteful->name, wasteful->actual_kib,
                                wasteful->actual_kib - give, Reason::kReclaim});
      } else {
        plan.actions.push_back({starved->name, starved->actual_kib,
                                starved->actual_kib + kStep, Reason::kStarved});
      }
    } else if (*wasteful->unused_kib >= params_.waste_kib) {
      plan.actions.push_back({wasteful->name, wasteful->actual_kib,
                              wasteful->actual_kib - kStep, Reason::kReclaim});
    }
    return plan;
  }

 private:
  PolicyParams params_;
};

}  // namespace

std::unique_ptr<Policy> NewSeedPolicy(const PolicyParams& params) {
  return std::make_unique<SeedPolicy>(params);
}

}  // namespace memcoord
