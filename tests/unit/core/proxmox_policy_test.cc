// The proxmox policy: AutoBalloon.pm arithmetic on hand-computed cases
// (README "Policies", proxmox). Host 10000 MiB throughout, so
// goal = 8000 - (10000 - available) MiB.
#include <gtest/gtest.h>

#include <memory>

#include "memcoord/policy.h"
#include "test_util.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

std::unique_ptr<Policy> NewProxmox() {
  auto policy = MakePolicy("proxmox", PolicyParams{});
  EXPECT_TRUE(policy.ok());
  return std::move(*policy);
}

GuestSample G(const std::string& name, double actual, double unused,
              double min = 512, int64_t shares = 1000, double max = 2048) {
  GuestSample g = Guest(name, actual, unused, max);
  g.limits.floor_kib = MibToKib(min);
  g.limits.shares = shares;
  return g;
}

Snapshot HostSnap(std::vector<GuestSample> guests, double available_mib) {
  return Snap(std::move(guests), available_mib, 10000);
}

TEST(ProxmoxPolicyTest, GrowsPressuredGuestsFirstBy100MibSteps) {
  auto px = NewProxmox();
  // goal = 8000 - 4000 = 4000 MiB. a is pressured (50 <= 0.25*512 = 128),
  // b is not. Pool over [a] = (1000 - 512) + 4000; a's share is beyond its
  // 2048 maximum, so it steps 100 MiB toward it. b gets nothing because the
  // pressured guests moved.
  Plan p = px->Decide(HostSnap({G("a", 1000, 50), G("b", 1000, 600)}, 6000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1100));
  EXPECT_EQ(p.actions[0].reason, Reason::kBalance);
}

TEST(ProxmoxPolicyTest, GrowsAllGuestsBySharesWhenNoneIsPressured) {
  auto px = NewProxmox();
  // goal = 200 MiB, no pressured guest, so all share it:
  // pool = 488 + 488 + 200 = 1176; desired a = 512 + 1176/4 = 806 (a steps
  // down to 900), desired b = 512 + 1176*3/4 = 1394 (b steps up to 1100).
  Plan p = px->Decide(HostSnap(
      {G("a", 1000, 600, 512, 1000), G("b", 1000, 600, 512, 3000)}, 2200));
  ASSERT_EQ(p.actions.size(), 2u);
  // Growth is listed first.
  EXPECT_EQ(p.actions[0].domain, "b");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1100));
  EXPECT_EQ(p.actions[1].domain, "a");
  EXPECT_EQ(p.actions[1].target_kib, MibToKib(900));
}

TEST(ProxmoxPolicyTest, DesiredIsClampedToMaximumAndPoolReshared) {
  auto px = NewProxmox();
  // goal = 3000; nobody pressured. pool = 0 + 200 + 3000 = 3200 over two
  // guests: a's 1600 share exceeds its 700 maximum, so a is pinned at 700
  // and b takes the rest; each moves at most 100 MiB: a 512 -> 612, b
  // 700 -> 800.
  Plan p = px->Decide(HostSnap(
      {G("a", 512, 300, 512, 1000, 700), G("b", 700, 600, 500, 1000, 4096)},
      5000));
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.Find("a")->target_kib, MibToKib(612));
  EXPECT_EQ(p.Find("b")->target_kib, MibToKib(800));
}

TEST(ProxmoxPolicyTest, ShrinksGuestsWithFreeMemoryFirst) {
  auto px = NewProxmox();
  // goal = 8000 - 9000 = -1000. a has free memory, b does not. Pool over
  // [a] = 1488 - 1000 = 488: desired 1000, a steps 100 down. b is spared.
  Plan p = px->Decide(HostSnap({G("a", 2000, 800), G("b", 2000, 50)}, 1000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1900));
}

TEST(ProxmoxPolicyTest, ShrinksAllGuestsWhenThoseWithFreeMemoryCannotMove) {
  auto px = NewProxmox();
  // goal = -1000. a has free memory but stands at its minimum, so nothing
  // moves; then all guests share: pool = 0 + 1488 - 1000 = 488, desired
  // 756 each; a would have to grow, which a shrink never does; b steps
  // 100 down.
  Plan p = px->Decide(HostSnap({G("a", 512, 800), G("b", 2000, 50)}, 1000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "b");
  EXPECT_EQ(p.actions[0].target_kib, MibToKib(1900));
}

TEST(ProxmoxPolicyTest, DoesNothingWithin10MibOfGoal) {
  auto px = NewProxmox();
  // goal = 8000 - 7995 = 5 MiB, and -5 MiB.
  EXPECT_TRUE(px->Decide(HostSnap({G("a", 1000, 50)}, 2005)).actions.empty());
  EXPECT_TRUE(px->Decide(HostSnap({G("a", 1000, 900)}, 1995)).actions.empty());
}

TEST(ProxmoxPolicyTest, PressuredUnlessFreeAboveQuarterMinAndAtMinimum) {
  auto px = NewProxmox();
  // goal 4000. a: free exactly 0.25*512 = 128 is pressured. b: free ample
  // but below its minimum is pressured. c: not pressured. Only a and b
  // grow in the first pass.
  Plan p = px->Decide(
      HostSnap({G("a", 1000, 128), G("b", 400, 300), G("c", 1000, 600)}, 6000));
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.Find("a")->target_kib, MibToKib(1100));
  EXPECT_EQ(p.Find("b")->target_kib, MibToKib(500));
  EXPECT_EQ(p.Find("c"), nullptr);
}

TEST(ProxmoxPolicyTest, ZeroSharesAndGuestsWithoutStatsAreLeftAlone) {
  auto px = NewProxmox();
  GuestSample unmanaged = G("u", 1000, 50);
  unmanaged.limits.managed = false;
  Plan p = px->Decide(
      HostSnap({G("z", 1000, 50, 512, 0), GuestWithoutStats("n", 1000),
                unmanaged, G("a", 1000, 50)},
               6000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].domain, "a");
}

}  // namespace
}  // namespace memcoord
