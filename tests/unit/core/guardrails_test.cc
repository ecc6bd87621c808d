// One test per guardrail (README "Guardrails"): each fails if its rule is
// broken.
#include "memcoord/guardrails.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

Action Act(const std::string& d, double from_mib, double to_mib,
           Reason r = Reason::kStarved) {
  return {d, MibToKib(from_mib), MibToKib(to_mib), r};
}

GuardedPlan Guard(std::vector<Action> actions, const Snapshot& s,
                  GuardrailParams params = {}) {
  Plan p;
  p.actions = std::move(actions);
  GuardedPlan out = Enforce(p, s, params);
  EXPECT_TRUE(Violations(out.plan, s, params).empty());
  return out;
}

TEST(GuardrailsTest, G1NeverShrinksGuestAtOrBelowMinUnused) {
  Snapshot s = Snap({Guest("a", 1024, 100)}, 4096);
  GuardedPlan g = Guard({Act("a", 1024, 900)}, s);
  EXPECT_TRUE(g.plan.actions.empty());
  EXPECT_EQ(g.clamps[Rule::kGuestMinUnused], 1);
}

TEST(GuardrailsTest, G1ShrinkLeavesMinUnused) {
  // unused 180: at most 80 MiB may go (G1), G3 would allow 90.
  Snapshot s = Snap({Guest("a", 1024, 180)}, 4096);
  GuardedPlan g = Guard({Act("a", 1024, 700, Reason::kReclaim)}, s);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1024 - 80));
  EXPECT_EQ(g.clamps[Rule::kGuestMinUnused], 1);
  EXPECT_EQ(g.clamps[Rule::kMaxRelease], 0);
}

TEST(GuardrailsTest, G3ReleasesAtMostHalfOfUnused) {
  Snapshot s = Snap({Guest("a", 2048, 1000)}, 4096);
  GuardedPlan g = Guard({Act("a", 2048, 1024, Reason::kReclaim)}, s);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(2048 - 500));
  EXPECT_EQ(g.clamps[Rule::kMaxRelease], 1);
}

TEST(GuardrailsTest, G3FractionIsConfigurable) {
  Snapshot s = Snap({Guest("a", 2048, 1000)}, 4096);
  GuardrailParams params;
  params.max_release_fraction = 0.25;
  GuardedPlan g = Guard({Act("a", 2048, 1024)}, s, params);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(2048 - 250));
}

TEST(GuardrailsTest, G2NoGrowthWhenHostAtReserve) {
  Snapshot s = Snap({Guest("a", 1024, 50)}, 200);
  GuardedPlan g = Guard({Act("a", 1024, 1324)}, s);
  EXPECT_TRUE(g.plan.actions.empty());
  EXPECT_EQ(g.clamps[Rule::kHostMinFree], 1);
}

TEST(GuardrailsTest, G2TotalGrowthKeepsHostReserveInPlanOrder) {
  // 500 free, 200 reserve: 300 MiB may be handed out in all.
  Snapshot s = Snap({Guest("a", 1024, 50), Guest("b", 1024, 60)}, 500);
  GuardedPlan g = Guard({Act("a", 1024, 1224), Act("b", 1024, 1324)}, s);
  ASSERT_EQ(g.plan.actions.size(), 2u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1224));  // first in full
  EXPECT_EQ(g.plan.actions[1].target_kib, MibToKib(1124));  // the rest
  EXPECT_EQ(g.clamps[Rule::kHostMinFree], 1);
}

TEST(GuardrailsTest, G2IsMeasuredOnAvailableMemoryNotMemFree) {
  // 150 MiB free but 4 GiB of it reclaimable page cache: the host can give.
  Snapshot cached = Snap({Guest("a", 1024, 50)}, 150);
  cached.host.available_kib = MibToKib(4096);
  GuardedPlan g = Guard({Act("a", 1024, 1324)}, cached);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1324));
  // 4 GiB free by MemFree's count but only 250 MiB available: 50 to give.
  Snapshot tight = Snap({Guest("a", 1024, 50)}, 4096);
  tight.host.available_kib = MibToKib(250);
  g = Guard({Act("a", 1024, 1324)}, tight);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1074));
}

TEST(GuardrailsTest, G4ClampsToCeilingAndFloor) {
  GuestSample a = Guest("a", 1900, 10, 2048);
  GuestSample b = Guest("b", 600, 500, 2048);
  b.limits.floor_kib = MibToKib(512);
  GuestSample c = Guest("c", 1024, 50, 2048);
  c.limits.max_kib = MibToKib(1100);
  Snapshot s = Snap({a, b, c}, 8192);
  GuardedPlan g =
      Guard({Act("a", 1900, 2300), Act("b", 600, 300, Reason::kReclaim),
             Act("c", 1024, 1500)},
            s);
  ASSERT_EQ(g.plan.actions.size(), 3u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(2048));
  EXPECT_EQ(g.plan.actions[1].target_kib, MibToKib(512));
  EXPECT_EQ(g.plan.actions[2].target_kib, MibToKib(1100));
  EXPECT_EQ(g.clamps[Rule::kBounds], 3);
}

TEST(GuardrailsTest, G4NeverReversesDirection) {
  // Already below its floor: a shrink is dropped, not turned into a grow.
  GuestSample a = Guest("a", 200, 150, 2048);
  Snapshot s = Snap({a}, 8192);
  GuardedPlan g = Guard({Act("a", 200, 150, Reason::kReclaim)}, s);
  EXPECT_TRUE(g.plan.actions.empty());
}

TEST(GuardrailsTest, G5NoActionWithoutFreshStats) {
  GuestSample stale = Guest("s", 1024, 50, 2048, /*time_s=*/90);
  Snapshot s = Snap(
      {stale, GuestWithoutStats("n", 1024), Guest("ok", 1024, 50, 2048, 99)},
      8192, 16384, /*time_s=*/100);
  GuardrailParams params;
  params.stale_after_s = 6;
  GuardedPlan g = Guard({Act("s", 1024, 1324), Act("n", 1024, 1324),
                         Act("ok", 1024, 1324), Act("gone", 1024, 1324)},
                        s, params);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].domain, "ok");
  EXPECT_EQ(g.clamps[Rule::kStale], 3);
}

TEST(GuardrailsTest, G6GrowthStaysWithinBudget) {
  Snapshot s = Snap({Guest("a", 1024, 50), Guest("b", 1024, 400)}, 8192);
  GuardrailParams params;
  params.guest_budget_kib = MibToKib(2148);  // 100 MiB above the sum
  GuardedPlan g = Guard({Act("a", 1024, 1324)}, s, params);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1124));
  EXPECT_EQ(g.clamps[Rule::kBudget], 1);
  params.guest_budget_kib = MibToKib(2000);  // already over
  g = Guard({Act("a", 1024, 1324)}, s, params);
  EXPECT_TRUE(g.plan.actions.empty());
  EXPECT_EQ(g.clamps[Rule::kBudget], 1);
}

TEST(GuardrailsTest, UnmanagedGuestGetsNoAction) {
  GuestSample a = Guest("a", 1024, 50);
  a.limits.managed = false;
  GuardedPlan g = Guard({Act("a", 1024, 1324)}, Snap({a}, 8192));
  EXPECT_TRUE(g.plan.actions.empty());
  EXPECT_EQ(g.clamps[Rule::kUnmanaged], 1);
}

TEST(GuardrailsTest, FromIsTakenFromTheSnapshotAndDuplicatesDropped) {
  Snapshot s = Snap({Guest("a", 1024, 50)}, 8192);
  GuardedPlan g = Guard({Act("a", 999, 1200), Act("a", 1024, 2000)}, s);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].from_kib, MibToKib(1024));
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1200));
}

TEST(GuardrailsTest, ViolationsReportsEveryBrokenRule) {
  GuestSample a = Guest("a", 1024, 100);
  GuestSample b = Guest("b", 1024, 50, 1500);
  Snapshot s = Snap({a, b}, 300);
  Plan p;
  p.actions = {Act("a", 1024, 900), Act("b", 1024, 1600)};
  std::vector<std::string> v = Violations(p, s, GuardrailParams{});
  auto has = [&](const std::string& needle) {
    for (const std::string& line : v)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("G1"));
  EXPECT_TRUE(has("G3"));
  EXPECT_TRUE(has("G4"));
  EXPECT_TRUE(has("G2"));
}

TEST(GuardrailsTest, RequireAutodeflateShrinksOnlyGuestsKnownToAutodeflate) {
  Snapshot s = Snap({Guest("on", 2048, 1000, 4096), Guest("off", 2048, 1000, 4096),
                     Guest("unknown", 2048, 1000, 4096)},
                    4096);
  s.guests[0].balloon.autodeflate = true;
  s.guests[1].balloon.autodeflate = false;
  GuardrailParams params;
  params.require_autodeflate = true;
  const std::vector<Action> shrinks = {
      Act("on", 2048, 1800, Reason::kReclaim),
      Act("off", 2048, 1800, Reason::kReclaim),
      Act("unknown", 2048, 1800, Reason::kHostPressure)};
  GuardedPlan g = Guard(shrinks, s, params);
  ASSERT_EQ(g.plan.actions.size(), 1u);
  EXPECT_EQ(g.plan.actions[0].domain, "on");
  EXPECT_EQ(g.plan.actions[0].target_kib, MibToKib(1800));
  EXPECT_EQ(g.clamps[Rule::kAutodeflate], 2);
  EXPECT_EQ(g.clamps.total(), 2);

  // Growth is never held back by it.
  GuardedPlan grow = Guard({Act("off", 2048, 2100)}, s, params);
  ASSERT_EQ(grow.plan.actions.size(), 1u);
  EXPECT_EQ(grow.clamps[Rule::kAutodeflate], 0);

  // Off by default: every shrink goes through.
  GuardedPlan by_default = Guard(shrinks, s);
  EXPECT_EQ(by_default.plan.actions.size(), 3u);
  EXPECT_EQ(by_default.clamps[Rule::kAutodeflate], 0);
}

TEST(GuardrailsTest, ViolationsReportsAShrinkWithoutAutodeflate) {
  Snapshot s = Snap({Guest("a", 2048, 1000)}, 4096);
  s.guests[0].balloon.autodeflate = false;
  Plan p;
  p.actions = {Act("a", 2048, 1800, Reason::kReclaim)};
  GuardrailParams params;
  EXPECT_TRUE(Violations(p, s, params).empty());
  params.require_autodeflate = true;
  std::vector<std::string> v = Violations(p, s, params);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("autodeflate"), std::string::npos) << v[0];
}

TEST(GuardrailsTest, RuleNamesAreTheMetricLabels) {
  EXPECT_EQ(RuleName(Rule::kAutodeflate), "autodeflate");
  EXPECT_EQ(RuleName(Rule::kBudget), "guest_budget");
}

}  // namespace
}  // namespace memcoord
