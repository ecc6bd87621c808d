// The mom policy: oVirt MoM's balloon.rules arithmetic on hand-computed
// cases (README "Policies", mom). Host 10000 MiB throughout, so the host free
// fraction is free/10000.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "memcoord/policy.h"
#include "test_util.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

constexpr double kHostMib = 10000;

std::unique_ptr<Policy> NewMom() {
  auto policy = MakePolicy("mom", PolicyParams{});
  EXPECT_TRUE(policy.ok());
  return std::move(*policy);
}

// MoM counts Buffers and Cached as free host memory.
Snapshot HostSnap(std::vector<GuestSample> guests, double free_mib,
                  double cached_mib = 0, double time_s = 0) {
  Snapshot s = Snap(std::move(guests), free_mib, kHostMib, time_s);
  s.host.cached_kib = MibToKib(cached_mib);
  return s;
}

int64_t Kib(double mib) {
  return static_cast<int64_t>(std::llround(mib * 1024));
}

TEST(MomPolicyTest, ShrinksEveryGuestWhenHostBelow20Percent) {
  auto mom = NewMom();
  // hfp = (1000 + 500 cached) / 10000 = 0.15 < 0.20: shrink branch, gfp 0.15.
  Plan p = mom->Decide(HostSnap(
      {Guest("a", 2000, 800), Guest("b", 1000, 100), Guest("c", 1000, 850)},
      1000, 500));
  ASSERT_EQ(p.actions.size(), 3u);
  // a: used 1200; max(max(256, 1200 + 0.15*2000 = 1500), 0.95*2000 = 1900).
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, Kib(1900));
  EXPECT_EQ(p.actions[0].reason, Reason::kHostPressure);
  // b: used 900; 900 + 150 = 1050 beats 950. MoM's shrink rule raises a
  // guest that is short of its free share, even under host pressure.
  EXPECT_EQ(p.actions[1].domain, "b");
  EXPECT_EQ(p.actions[1].target_kib, Kib(1050));
  // c: used 150; 150 + 150 = 300 loses to 0.95*1000: at most 5 % per step.
  EXPECT_EQ(p.actions[2].target_kib, Kib(950));
}

TEST(MomPolicyTest, CriticalHostPressureAsksForNegativeGuestFree) {
  auto mom = NewMom();
  // hfp = 400/10000 = 0.04 <= 0.05: gfp = 0.04 - 0.05 = -0.01.
  Plan p = mom->Decide(HostSnap({Guest("a", 1000, 20)}, 400));
  ASSERT_EQ(p.actions.size(), 1u);
  // used 980; 980 - 0.01*1000 = 970 beats 950. With gfp = hfp it would be
  // 980 + 40 = 1020.
  EXPECT_EQ(p.actions[0].target_kib, Kib(970));
}

TEST(MomPolicyTest, GrowsEveryGuestBelowMaximumWhenHostHasRoom) {
  auto mom = NewMom();
  // hfp = 0.8: grow branch.
  Plan p = mom->Decide(HostSnap({Guest("a", 1000, 100), Guest("b", 1000, 600),
                                 Guest("c", 2000, 500), Guest("d", 2048, 10)},
                                8000));
  ASSERT_EQ(p.actions.size(), 3u);
  // a: used 900; max(1.05*1000 = 1050, 256, 900 + 0.2*1000 = 1100).
  EXPECT_EQ(p.actions[0].domain, "a");
  EXPECT_EQ(p.actions[0].target_kib, Kib(1100));
  EXPECT_EQ(p.actions[0].reason, Reason::kBalance);
  // b: used 400 + 200 = 600 loses to 1050.
  EXPECT_EQ(p.actions[1].target_kib, Kib(1050));
  // c: 1.05*2000 = 2100, capped at the 2048 maximum.
  EXPECT_EQ(p.actions[2].target_kib, Kib(2048));
  // d is at its maximum: nothing to do.
  EXPECT_EQ(p.Find("d"), nullptr);
}

TEST(MomPolicyTest, HostFreeFractionAveragesTheLastTenSamples) {
  auto mom = NewMom();
  // Two samples with the host all free, then ten at 10 % free. Over the last
  // ten hfp = 0.10 (shrink); over all twelve it would be 0.25 (grow).
  Plan p;
  for (int i = 0; i < 12; ++i) {
    p = mom->Decide(
        HostSnap({Guest("a", 2000, 800)}, i < 2 ? kHostMib : 1000, 0, i));
  }
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].reason, Reason::kHostPressure);
  EXPECT_EQ(p.actions[0].target_kib, Kib(1900));
}

TEST(MomPolicyTest, GuestUsedAveragesActualAndUnused) {
  auto mom = NewMom();
  // Unused alternates 0 and 80 MiB at actual 1000: avg used = 1000 - 40 =
  // 960, target 960 + 200 = 1160. The last sample alone (unused 80) would
  // give 920 + 200 = 1120.
  Plan p;
  for (int i = 0; i < 10; ++i) {
    p = mom->Decide(
        HostSnap({Guest("a", 1000, i % 2 == 0 ? 0 : 80)}, 8000, 0, i));
  }
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].target_kib, Kib(1160));
}

TEST(MomPolicyTest, SkipsChangesBelowQuarterPercent) {
  auto mom = NewMom();
  // 2045 -> 2048 is 3 MiB, under 0.25 % of 2045 (5.1 MiB).
  Plan p = mom->Decide(HostSnap({Guest("a", 2045, 1000)}, 8000));
  EXPECT_TRUE(p.actions.empty());
  // 2030 -> 2048 is 18 MiB: big enough.
  auto mom2 = NewMom();
  p = mom2->Decide(HostSnap({Guest("a", 2030, 1000)}, 8000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].target_kib, Kib(2048));
}

TEST(MomPolicyTest, FloorAndConfiguredMaximumBoundTargets) {
  auto mom = NewMom();
  GuestSample a = Guest("a", 2000, 1000);
  a.limits.floor_kib = Kib(1980);  // shrink would give 1900
  GuestSample b = Guest("b", 1000, 100);
  b.limits.max_kib = Kib(1080);  // grow would give 1100
  Plan p = mom->Decide(HostSnap({a}, 1500));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].target_kib, Kib(1980));
  auto mom2 = NewMom();
  p = mom2->Decide(HostSnap({b}, 8000));
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].target_kib, Kib(1080));
}

TEST(MomPolicyTest, LeavesGuestsWithoutStatsOrUnmanagedAlone) {
  auto mom = NewMom();
  GuestSample unmanaged = Guest("u", 1000, 100);
  unmanaged.limits.managed = false;
  Plan p =
      mom->Decide(HostSnap({GuestWithoutStats("n", 1000), unmanaged}, 8000));
  EXPECT_TRUE(p.actions.empty());
}

}  // namespace
}  // namespace memcoord
