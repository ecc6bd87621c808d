// The seed policy, branch by branch (README "Policies").
#include <gtest/gtest.h>

#include "memcoord/policy.h"
#include "test_util.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

Plan DecideSeed(const Snapshot& s) {
  auto policy = MakePolicy("seed", PolicyParams{});
  EXPECT_TRUE(policy.ok());
  return (*policy)->Decide(s);
}

TEST(SeedPolicyTest, StarvedTakesHalfOfWastefulUnused) {
  Plan p = DecideSeed(Snap(
      {Guest("a", 1024, 100), Guest("b", 2048, 900), Guest("c", 1024, 400)},
      4096));
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1024 + 450));
  EXPECT_EQ(p.actions[0].reason, Reason::kStarved);
  EXPECT_EQ(p.actions[1].domain, "b");
  EXPECT_EQ(p.actions[1].target_kib, MibToKib(2048 - 450));
  EXPECT_EQ(p.actions[1].reason, Reason::kReclaim);
}

TEST(SeedPolicyTest, StarvedAtExactlyThresholdCounts) {
  Plan p =
      DecideSeed(Snap({Guest("a", 1024, 150), Guest("b", 1024, 200)}, 4096));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1024 + 300));
}

TEST(SeedPolicyTest, StarvedWithoutWastefulGrowsFromHost) {
  Plan p =
      DecideSeed(Snap({Guest("a", 1024, 100), Guest("b", 1024, 299)}, 4096));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1324));
  EXPECT_EQ(p.actions[0].reason, Reason::kStarved);
}

TEST(SeedPolicyTest, WastefulAtThresholdReturns300ToHost) {
  Plan p =
      DecideSeed(Snap({Guest("a", 1024, 200), Guest("b", 1500, 300)}, 4096));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "b");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1200));
  EXPECT_EQ(p.actions[0].reason, Reason::kReclaim);
}

TEST(SeedPolicyTest, NothingWhenAllGuestsAreOk) {
  Plan p =
      DecideSeed(Snap({Guest("a", 1024, 151), Guest("b", 1024, 299)}, 4096));
  EXPECT_TRUE(p.actions.empty());
}

TEST(SeedPolicyTest, IgnoresGuestsWithoutStatsAndUnmanaged) {
  GuestSample unmanaged = Guest("u", 1024, 10);
  unmanaged.limits.managed = false;
  Plan p = DecideSeed(Snap(
      {GuestWithoutStats("n", 512), unmanaged, Guest("b", 1024, 200)}, 4096));
  EXPECT_TRUE(p.actions.empty());
}

TEST(SeedPolicyTest, EmptySnapshotGivesEmptyPlan) {
  EXPECT_TRUE(DecideSeed(Snap({}, 4096)).actions.empty());
}

TEST(PolicyTest, UnknownNameIsInvalidArgument) {
  auto p = MakePolicy("greedy", PolicyParams{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("greedy"), std::string::npos);
}

TEST(PolicyTest, ClassifiesByUnusedMemory) {
  PolicyParams params;
  EXPECT_EQ(Classify(Guest("a", 1024, 150), params), GuestClass::kStarved);
  EXPECT_EQ(Classify(Guest("a", 1024, 151), params), GuestClass::kOk);
  EXPECT_EQ(Classify(Guest("a", 1024, 300), params), GuestClass::kWasteful);
  EXPECT_EQ(Classify(GuestWithoutStats("a", 1024), params),
            GuestClass::kUnknown);
}

}  // namespace
}  // namespace memcoord
