// The adaptive policy on hand-computed cases.
//
// Default thresholds: starvation 150, waste 300, guest_min_unused 100 MiB;
// interval 1 s unless a test says otherwise. For a 1024 MiB guest the
// starvation line L is 150 MiB (6 % of 1024 is less), the critical line C
// 100 MiB. Stats taken at the snapshot's time make the reaction time T =
// I + 0.25 s. The headroom a guest keeps is C + X + h*T (h: 96 MiB/s until
// faster growth is seen on the host; a balloon measured slower than h adds
// (1 - v/h) * (ceiling - used - h*T)), at least K0 = 0.9 * 300 = 270 MiB: at 1 s that is 100 + 120 =
// 220, so K0. A reclaim leaves the headroom, a grant fills up to it. Until
// a balloon move is seen, grants assume it moves 128 MiB/s.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "memcoord/policy.h"
#include "test_util.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

std::unique_ptr<Policy> NewAdaptive(double interval_s = 1) {
  PolicyParams params;
  params.interval_s = interval_s;
  auto policy = MakePolicy("adaptive", params);
  EXPECT_TRUE(policy.ok());
  return std::move(*policy);
}

// A guest of `actual` MiB whose free memory (unused and usable) is `free`,
// with stats taken at `t`.
GuestSample G(const std::string& name, double actual, double free,
              double t = 0) {
  return Guest(name, actual, free, 2048, t);
}

Snapshot At(double t, std::vector<GuestSample> guests,
            double host_free_mib = 8192) {
  return Snap(std::move(guests), host_free_mib, 16384, t);
}

TEST(AdaptivePolicyTest, StarvedGuestGrowsToNearTheWasteLine) {
  auto p = NewAdaptive();
  // F = 120 <= L; filling to the headroom, 270, needs 150.
  Plan plan = p->Decide(At(0, {G("a", 1024, 120)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 + 150));
  EXPECT_EQ(plan.actions[0].reason, Reason::kStarved);
}

TEST(AdaptivePolicyTest, UsesUsableWhenReportedElseUnused) {
  // 20 MiB free but 800 MiB of reclaimable cache: not starved.
  GuestSample cached = G("a", 1024, 20);
  cached.usable_kib = MibToKib(800);
  EXPECT_TRUE(NewAdaptive()->Decide(At(0, {cached})).actions.empty());
  // Without usable, unused is all there is: 20 <= C, so it grows.
  cached.usable_kib.reset();
  Plan plan = NewAdaptive()->Decide(At(0, {cached}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_TRUE(plan.actions[0].grow());
}

TEST(AdaptivePolicyTest, GrowsBeforeStarvationFromTheTrend) {
  auto p = NewAdaptive();
  // Free falls 60 MiB/s: 290, 230, 170. At 230, 60 MiB/s for T = 1.25 s
  // leaves 155 >= L, so nothing is done; at 170 it would leave 95 < L.
  EXPECT_TRUE(p->Decide(At(0, {G("a", 1024, 290, 0)})).actions.empty());
  EXPECT_TRUE(p->Decide(At(1, {G("a", 1024, 230, 1)})).actions.empty());
  Plan plan = p->Decide(At(2, {G("a", 1024, 170, 2)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kPredicted);
  // First order: 270 + 60 * 1.25 - 170 = 175, which the balloon needs the
  // whole interval for at 128 MiB/s; so the grant covers 60 MiB/s for
  // 1.25 + 1 s on top of the headroom: 270 + 135 - 170 = 235 MiB.
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 + 235));
}

TEST(AdaptivePolicyTest, SwapInMarksStarvingWhateverFreeMemorySays) {
  auto p = NewAdaptive();
  GuestSample a = G("a", 1024, 600, 0);
  a.swap_out_kib = MibToKib(300);
  a.swap_in_kib = MibToKib(100);
  p->Decide(At(0, {a}));
  a.stats_time_s = 1;
  a.swap_in_kib = MibToKib(200);  // swapping in: 100 MiB still in swap
  Plan plan = p->Decide(At(1, {a}));
  // 600 MiB free would be reclaimed from an idle guest; a swapping guest is
  // starving, and its 600 MiB free covers its headroom, so it is left be.
  EXPECT_TRUE(plan.actions.empty());

  // Swapping with too little free memory: grow by what is in swap too.
  auto q = NewAdaptive();
  GuestSample b = G("b", 1024, 200, 0);
  b.swap_out_kib = MibToKib(300);
  b.swap_in_kib = MibToKib(100);
  q->Decide(At(0, {b}));
  b.stats_time_s = 1;
  b.swap_in_kib = MibToKib(200);
  plan = q->Decide(At(1, {b}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kStarved);
  // The headroom covers what is in swap: C + X + h*T = 100 + 100 + 120 =
  // 320 MiB, 120 more than the 200 it has.
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 + 120));
}

TEST(AdaptivePolicyTest, ReclaimsFromIdleGuestAboveWasteLine) {
  auto p = NewAdaptive();
  // 700 unused: release down to the headroom, 270 (guardrails then take
  // half of the unused memory at most).
  Plan plan = p->Decide(At(0, {G("a", 1024, 700)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 700 + 270));
  EXPECT_EQ(plan.actions[0].reason, Reason::kReclaim);
}

TEST(AdaptivePolicyTest, LeavesSmallExcessOverWasteLine) {
  // The minimum step is 32 MiB; unused must pass the waste line by half of
  // it before a reclaim is worth a command.
  EXPECT_TRUE(
      NewAdaptive()->Decide(At(0, {G("a", 1024, 310)})).actions.empty());
  Plan plan = NewAdaptive()->Decide(At(0, {G("a", 1024, 320)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 320 + 270));
}

TEST(AdaptivePolicyTest, NeverReclaimsFromGuestWhoseFreeMemoryFalls) {
  auto p = NewAdaptive();
  p->Decide(At(0, {G("a", 1024, 900, 0)}));
  // Still 700 MiB unused, but demand rose 200 MiB in a second.
  EXPECT_TRUE(p->Decide(At(1, {G("a", 1024, 700, 1)})).actions.empty());
}

TEST(AdaptivePolicyTest, RecentlyGrownGuestMustStayAboveWasteLonger) {
  auto p = NewAdaptive();
  Plan plan = p->Decide(At(0, {G("a", 1024, 50, 0)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  ASSERT_TRUE(plan.actions[0].grow());
  // Its workload stopped: 500 MiB unused, demand falling then flat. It is
  // reclaimed on the third sample above the line, not the first.
  EXPECT_TRUE(p->Decide(At(1, {G("a", 1200, 500, 1)})).actions.empty());
  EXPECT_TRUE(p->Decide(At(2, {G("a", 1200, 500, 2)})).actions.empty());
  plan = p->Decide(At(3, {G("a", 1200, 500, 3)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kReclaim);
}

TEST(AdaptivePolicyTest, NoNewCommandBeforeBalloonSettlesUnlessStarvingHarder) {
  // t=0: F = 140 gets 130 MiB (to 270 free): target 1130.
  // t=1: the balloon has moved 50 of it and is 80 MiB away.
  for (bool harder : {false, true}) {
    auto p = NewAdaptive();
    Plan plan = p->Decide(At(0, {G("a", 1000, 140, 0)}));
    ASSERT_EQ(plan.actions.size(), 1u);
    ASSERT_EQ(plan.actions[0].target_kib, MibToKib(1130));
    GuestSample a = G("a", 1050, harder ? 120 : 145, 1);
    a.target_kib = MibToKib(1130);
    plan = p->Decide(At(1, {a}));
    if (!harder) {
      EXPECT_TRUE(plan.actions.empty());
      continue;
    }
    // Starving harder (120 < 140): a new grant on top of the pending one.
    // Demand rose 70 MiB/s (h stays 96); free after the pending 80 MiB is
    // 200. The balloon was seen moving 50 MiB/s, slower than h, so the
    // headroom holds what it cannot deliver of a burst up to the 2048 MiB
    // ceiling: 100 + 96 * 1.25 + (1 - 50/96) * (2048 - 930 - 120). At
    // 50 MiB/s the balloon needs the whole interval, so the grant is that
    // + 70 * (1.25 + 1) - 200.
    const double keep = 100 + 96 * 1.25 + (1 - 50.0 / 96) * (2048 - 930 - 120);
    const double grant = keep + 70 * (1.25 + 1) - 200;
    ASSERT_EQ(plan.actions.size(), 1u);
    EXPECT_NEAR(static_cast<double>(plan.actions[0].target_kib),
                static_cast<double>(MibToKib(1130 + grant)), 16);
  }
}

TEST(AdaptivePolicyTest, SharesScarceHostMemoryBySharesAndNeed) {
  auto p = NewAdaptive();
  GuestSample a = G("a", 1024, 50);
  GuestSample b = G("b", 1024, 50);
  b.limits.shares = 3000;
  // 300 MiB above the 200 MiB host reserve. Each needs 220 (to 270 free),
  // 50 of it urgent (up to C). Urgent parts first (50 + 50), then the other
  // 200 by shares, 1:3 -> 50 and 150.
  Plan plan = p->Decide(At(0, {a, b}, 500));
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.Find("a")->target_kib, MibToKib(1024 + 100));
  EXPECT_EQ(plan.Find("b")->target_kib, MibToKib(1024 + 200));
}

TEST(AdaptivePolicyTest, GrowthStaysWithinGuestBudget) {
  auto p = NewAdaptive();
  Snapshot s = At(0, {G("a", 1024, 50), G("b", 1024, 250)});
  s.guest_budget_kib = MibToKib(2048 + 64);
  Plan plan = p->Decide(s);
  ASSERT_NE(plan.Find("a"), nullptr);
  EXPECT_EQ(plan.Find("a")->target_kib, MibToKib(1024 + 64));
}

TEST(AdaptivePolicyTest, SqueezesIdleGuestsWhenUrgentNeedsGoUnmet) {
  auto p = NewAdaptive();
  // No host memory to give; a is critical (50 MiB free, 50 urgent).
  // b has the most to spare and is squeezed to C + 16 = 116 unused, which
  // covers the shortfall, so c (250 unused, under the waste line) is kept.
  Plan plan = p->Decide(
      At(0, {G("a", 1024, 50), G("b", 1024, 600), G("c", 1024, 250)}, 200));
  EXPECT_EQ(plan.Find("a"), nullptr);
  ASSERT_NE(plan.Find("b"), nullptr);
  EXPECT_EQ(plan.Find("b")->target_kib, MibToKib(1024 - 600 + 116));
  EXPECT_EQ(plan.Find("b")->reason, Reason::kHostPressure);
  EXPECT_EQ(plan.Find("c"), nullptr);
}

TEST(AdaptivePolicyTest, SqueezesIdleGuestsWhileHostIsUnderReserve) {
  auto p = NewAdaptive();
  Plan plan = p->Decide(At(0, {G("c", 1024, 250)}, 100));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 250 + 116));
  EXPECT_EQ(plan.actions[0].reason, Reason::kHostPressure);
}

TEST(AdaptivePolicyTest, CorrectsCeilingAndFloor) {
  auto p = NewAdaptive();
  GuestSample high = G("high", 1024, 200);
  high.limits.max_kib = MibToKib(900);
  GuestSample low = G("low", 200, 150);
  Plan plan = p->Decide(At(0, {high, low}));
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].domain, "low");  // growth first
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(256));
  EXPECT_EQ(plan.actions[0].reason, Reason::kFloor);
  EXPECT_EQ(plan.actions[1].target_kib, MibToKib(900));
  EXPECT_EQ(plan.actions[1].reason, Reason::kCeiling);
}

TEST(AdaptivePolicyTest, ListsGrowthFirstMostUrgentFirst) {
  auto p = NewAdaptive();
  Plan plan = p->Decide(At(
      0, {G("idle", 1024, 700), G("lean", 1024, 140), G("dying", 1024, 30)}));
  ASSERT_EQ(plan.actions.size(), 3u);
  EXPECT_EQ(plan.actions[0].domain, "dying");
  EXPECT_EQ(plan.actions[1].domain, "lean");
  EXPECT_EQ(plan.actions[2].domain, "idle");
}

TEST(AdaptivePolicyTest, GuestsWithoutStatsOrUnmanagedGetNothing) {
  auto p = NewAdaptive();
  GuestSample unmanaged = G("u", 1024, 30);
  unmanaged.limits.managed = false;
  EXPECT_TRUE(p->Decide(At(0, {GuestWithoutStats("n", 1024), unmanaged}))
                  .actions.empty());
}

TEST(AdaptivePolicyTest, ForgetsAGuestThatLeaves) {
  auto p = NewAdaptive();
  p->Decide(At(0, {G("a", 1024, 290, 0)}));
  p->Decide(At(1, {G("a", 1024, 230, 1)}));
  p->Decide(At(2, {}));
  // Back under the same name with 170 free: a new guest, no trend yet, so
  // it is only filled up to its headroom (270). With the old samples
  // (demand up 30 MiB/s) the grant would also cover the trend.
  Plan plan = p->Decide(At(3, {G("a", 1024, 170, 3)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 + 100));
}

}  // namespace
}  // namespace memcoord

namespace memcoord {
namespace {

// A guest whose kernel keeps part of MemFree out of MemAvailable.
GuestSample Reserved(const std::string& name, double actual, double unused,
                     double usable, double t) {
  GuestSample g = Guest(name, actual, unused, 2048, t);
  g.usable_kib = MibToKib(usable);
  return g;
}

TEST(AdaptivePolicyTest, SqueezedIdleGuestIsNotGrownBackWhileFlat) {
  auto p = NewAdaptive();
  // "busy" is critical and the host has nothing to give: the idle guest is
  // squeezed toward what the guardrails allow.
  Plan plan;
  for (int t = 0; t < 3; ++t) {
    plan = p->Decide(
        At(t, {G("busy", 1024, 40, t), Reserved("idle", 600, 480, 410, t)},
           /*host_free_mib=*/200));
  }
  const Action* squeeze = plan.Find("idle");
  ASSERT_NE(squeeze, nullptr);
  EXPECT_FALSE(squeeze->grow());
  EXPECT_EQ(squeeze->reason, Reason::kHostPressure);
  // Squeezed, its usable memory reads below its critical line (the kernel's
  // reserve), but its demand is flat and it does not fault: not regrown.
  for (int t = 3; t < 6; ++t) {
    plan = p->Decide(
        At(t, {G("busy", 1500, 300, t), Reserved("idle", 260, 140, 70, t)},
           /*host_free_mib=*/2000));
    const Action* idle = plan.Find("idle");
    EXPECT_TRUE(idle == nullptr || !idle->grow()) << "t=" << t;
  }
  // Once its workload moves again it is served like any guest.
  plan = p->Decide(
      At(6, {G("busy", 1500, 300, 6), Reserved("idle", 260, 60, 10, 6)},
         /*host_free_mib=*/2000));
  const Action* grown = plan.Find("idle");
  ASSERT_NE(grown, nullptr);
  EXPECT_TRUE(grown->grow());
}

}  // namespace
}  // namespace memcoord

namespace memcoord {
namespace {

TEST(AdaptivePolicyTest, RisingGuestWithAmpleFreeLendsToAGuestAboutToStarve) {
  auto p = NewAdaptive();
  // Under a budget with nothing left, "slow" is critical; "fast" grows and
  // allocates but holds 600 MiB free, far more than it needs until its next
  // decision. Its excess goes, before "slow" is OOM-killed.
  Plan plan;
  for (int t = 0; t < 4; ++t) {
    Snapshot s = At(
        t, {G("slow", 1000, 40, t), G("fast", 1600 + 20 * t, 600 - 20 * t, t)});
    s.guest_budget_kib = MibToKib(1000 + 1600 + 20 * t);
    plan = p->Decide(s);
  }
  const Action* lend = plan.Find("fast");
  ASSERT_NE(lend, nullptr);
  EXPECT_FALSE(lend->grow());
  EXPECT_EQ(lend->reason, Reason::kHostPressure);
  // Its demand (actual - free) rises 40 MiB/s. It keeps its critical line,
  // its margin and what lasts it until growth decided next can arrive:
  // 100 + 16 + 40 * 1.25 = 166 MiB of its 540 MiB free.
  EXPECT_EQ(lend->target_kib, MibToKib(1660 - (540 - 166)));
}

}  // namespace
}  // namespace memcoord

namespace memcoord {
namespace {

// At a 5 s interval T = 5.25 s, and a 1024 MiB guest's headroom is
// C + h*T = 100 + 96 * 5.25 = 604 MiB: what a burst at the prior rate takes
// before the next decision can answer it.
TEST(AdaptivePolicyTest, HeadroomCoversABurstUntilTheNextDecision) {
  Plan plan = NewAdaptive(5)->Decide(At(0, {G("a", 1024, 900)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kReclaim);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 900 + 604));
  // At 1 s the same guest keeps only K0 = 270.
  plan = NewAdaptive(1)->Decide(At(0, {G("a", 1024, 900)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 900 + 270));
}

TEST(AdaptivePolicyTest, HeadroomShrinksAsTheHostGetsTight) {
  // The 334 MiB above K0 are held while the host can spare twice that. At
  // its reserve (200 MiB free) the host spares nothing but what the guest
  // holds above K0 (334): half of it is kept, 270 + 167 = 437.
  Plan plan = NewAdaptive(5)->Decide(At(0, {G("a", 1024, 900)}, 200));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kReclaim);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 - 900 + 437));
}

TEST(AdaptivePolicyTest,
     IdleGuestShortOfHeadroomIsGivenItWhileTheHostCanSpareIt) {
  // 300 MiB free, 304 short of its 604 MiB headroom (more than a quarter of
  // the 334 MiB above K0): grown ahead of any burst, as a prediction.
  Plan plan = NewAdaptive(5)->Decide(At(0, {G("a", 1024, 300)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kPredicted);
  EXPECT_EQ(plan.actions[0].target_kib, MibToKib(1024 + 304));
  // 550 MiB free is short by less than that quarter (83.5): no command.
  EXPECT_TRUE(
      NewAdaptive(5)->Decide(At(0, {G("a", 1024, 550)})).actions.empty());
  // A host at its reserve has nothing to give for headroom.
  EXPECT_TRUE(
      NewAdaptive(5)->Decide(At(0, {G("a", 1024, 300)}, 200)).actions.empty());
}

TEST(AdaptivePolicyTest, FastestGrowthOnTheHostSetsEveryGuestsHeadroom) {
  auto p = NewAdaptive();
  // "busy" grows 200 MiB/s; "idle" holds 900 MiB it does not use. Its
  // headroom becomes C + 200 * 1.25 = 350 MiB, not K0 (no move has shown
  // its balloon to be slower than that).
  p->Decide(At(0, {G("busy", 1024, 900, 0), G("idle", 1024, 900, 0)}));
  Plan plan =
      p->Decide(At(1, {G("busy", 1224, 900, 1), G("idle", 1024, 900, 1)}));
  const Action* idle = plan.Find("idle");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->reason, Reason::kReclaim);
  EXPECT_EQ(idle->target_kib, MibToKib(1024 - 900 + 350));
}

TEST(AdaptivePolicyTest, BurstStartingBetweenSamplesIsNotAveragedAway) {
  // Flat for 5 s, then demand up 120 MiB since the last sample, 5 s ago:
  // the burst may have begun only a stats period (1 s) before, so it counts
  // as 120 MiB/s, not 24. 484 - 120 * 5.25 < L: predicted, and grown.
  auto p = NewAdaptive(5);
  p->Decide(At(0, {G("a", 1100, 604, 0)}));
  p->Decide(At(5, {G("a", 1100, 604, 5)}));
  Plan plan = p->Decide(At(10, {G("a", 1100, 484, 10)}));
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].reason, Reason::kPredicted);
  EXPECT_GT(plan.actions[0].target_kib, MibToKib(1100 + 600));
}

TEST(AdaptivePolicyTest, GuestStillReleasingIsReclaimedOncePerThreeIntervals) {
  auto p = NewAdaptive(5);
  // At 5 s its headroom is 604 MiB and its workload frees 20 MiB/s (100 MiB
  // a sample) from 1000 MiB in use; the balloon follows every command at
  // once. A reclaim waits until three intervals of release (300 MiB) have
  // piled up, so twelve samples of release cost four commands at most,
  // not one each.
  double actual = 1600, used = 1000;
  int commands = 0;
  for (int k = 0; k < 12; ++k, used -= 100) {
    const double t = 5.0 * k;
    Plan plan = p->Decide(At(t, {G("a", actual, actual - used, t)}));
    if (plan.actions.empty()) continue;
    ++commands;
    EXPECT_EQ(plan.actions[0].reason, Reason::kReclaim);
    actual = KibToMib(plan.actions[0].target_kib);
  }
  EXPECT_GE(commands, 2);
  EXPECT_LE(commands, 4);
}

}  // namespace
}  // namespace memcoord

namespace memcoord {
namespace {

TEST(AdaptivePolicyTest, SqueezedGuestStaysSqueezedWhileTheHostIsShort) {
  auto p = NewAdaptive();
  // "busy" is critical and grows 30 MiB/s; "idle" is squeezed for it, after
  // which its MemAvailable reads below its critical line (the kernel's
  // reserve) although its demand is flat. The host then has 50 MiB to give,
  // less than busy's urgent need: however long that lasts, idle is not grown
  // back at busy's expense.
  Plan plan;
  for (int t = 0; t < 3; ++t) {
    plan = p->Decide(At(
        t,
        {G("busy", 1024 + 30 * t, 40, t), Reserved("idle", 600, 480, 410, t)},
        /*host_free_mib=*/200));
  }
  ASSERT_NE(plan.Find("idle"), nullptr);
  ASSERT_EQ(plan.Find("idle")->reason, Reason::kHostPressure);
  for (int t = 3; t < 15; ++t) {
    plan = p->Decide(At(
        t, {G("busy", 1024 + 30 * t, 40, t), Reserved("idle", 260, 140, 70, t)},
        /*host_free_mib=*/250));
    const Action* idle = plan.Find("idle");
    EXPECT_TRUE(idle == nullptr || !idle->grow()) << "t=" << t;
    const Action* busy = plan.Find("busy");
    ASSERT_NE(busy, nullptr) << "t=" << t;
    EXPECT_EQ(busy->delta_kib(), MibToKib(50)) << "t=" << t;
  }
  // Once the host has room again it gets its headroom back.
  plan = p->Decide(
      At(15, {G("busy", 1474, 400, 15), Reserved("idle", 260, 140, 70, 15)},
         /*host_free_mib=*/4000));
  plan = p->Decide(
      At(16, {G("busy", 1474, 400, 16), Reserved("idle", 260, 140, 70, 16)},
         /*host_free_mib=*/4000));
  const Action* grown = plan.Find("idle");
  ASSERT_NE(grown, nullptr);
  EXPECT_TRUE(grown->grow());
}

TEST(AdaptivePolicyTest, RisingGuestIsServedBeforeAFlatOneBelowItsLine) {
  // 200 MiB to give. "rising" (60 MiB/s, 200 free) will cross its line
  // before growth could reach it; "flat" sits below its line (120 free) but
  // its demand does not move. After the urgent parts (rising: 35), the
  // rising guest's need comes first.
  auto p = NewAdaptive();
  p->Decide(At(0, {G("rising", 1024, 260, 0), G("flat", 1024, 120, 0)}, 200));
  Plan plan = p->Decide(
      At(1, {G("rising", 1024, 200, 1), G("flat", 1024, 120, 1)}, 400));
  const Action* rising = plan.Find("rising");
  ASSERT_NE(rising, nullptr);
  EXPECT_EQ(rising->reason, Reason::kPredicted);
  EXPECT_EQ(rising->delta_kib(), MibToKib(200));
  EXPECT_EQ(plan.Find("flat"), nullptr);
}

}  // namespace
}  // namespace memcoord
