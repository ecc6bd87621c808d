#include "memcoord/simulator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/scenario.h"

namespace memcoord {
namespace {

constexpr double kEps = 1e-6;

ScenarioGuest Guest(std::string name, double start_mib = 1024) {
  ScenarioGuest g;
  g.name = std::move(name);
  g.max_mib = 2048;
  g.start_mib = start_mib;
  g.base_used_mib = 80;
  g.balloon_rate_mib_s = 200;
  return g;
}

Scenario OneHost(std::vector<ScenarioGuest> guests) {
  Scenario s;
  s.name = "unit";
  s.duration_s = 120;
  s.interval_s = 1;
  s.host_total_mib = 8192;
  s.host_used_mib = 512;
  s.guests = std::move(guests);
  EXPECT_TRUE(ValidateScenario(s).ok()) << ValidateScenario(s).ToString();
  return s;
}

SimGuestState State(const SimHypervisor& sim, const std::string& name) {
  std::optional<SimGuestState> g = sim.guest(name);
  EXPECT_TRUE(g.has_value()) << name;
  return g.value_or(SimGuestState());
}

const GuestSample& Find(const Snapshot& snap, const std::string& name) {
  const GuestSample* g = snap.Find(name);
  EXPECT_NE(g, nullptr) << name;
  static const GuestSample kNone;
  return g ? *g : kNone;
}

TEST(SimulatorTest, BalloonMovesAtItsRate) {
  ScenarioGuest g = Guest("vm1");
  g.balloon_rate_mib_s = 100;
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(1524)).ok());
  sim.AdvanceTo(1);
  EXPECT_NEAR(State(sim, "vm1").actual_mib, 1024 + 100, kEps);
  sim.AdvanceTo(2.5);
  EXPECT_NEAR(State(sim, "vm1").actual_mib, 1024 + 250, kEps);
  sim.AdvanceTo(10);
  EXPECT_NEAR(State(sim, "vm1").actual_mib, 1524, kEps);  // no overshoot
  clock.Set(10);
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(1024)).ok());
  sim.AdvanceTo(11);
  EXPECT_NEAR(State(sim, "vm1").actual_mib, 1524 - 100, kEps);
}

TEST(SimulatorTest, BalloonTakesFreePagesBeforeCacheAndStopsAtUsedPlus16) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 400},
                WorkloadOp{0, WorkloadOp::Kind::kCache, 300}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  SimGuestState s = State(sim, "vm1");
  const double used = s.base_used_mib + s.anon_mib;
  ASSERT_NEAR(used, 480, kEps);
  ASSERT_NEAR(s.cache_mib, 300, kEps);
  ASSERT_NEAR(s.unused_mib, 1024 - 480 - 300, kEps);

  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(256)).ok());
  sim.AdvanceTo(1);  // 200 MiB out: all of it from free pages
  s = State(sim, "vm1");
  EXPECT_NEAR(s.actual_mib, 824, kEps);
  EXPECT_NEAR(s.cache_mib, 300, kEps);
  EXPECT_NEAR(s.unused_mib, 44, kEps);

  sim.AdvanceTo(30);
  s = State(sim, "vm1");
  EXPECT_NEAR(s.actual_mib, used + 16, kEps);
  EXPECT_LE(s.cache_mib, 16 + kEps);
  EXPECT_NEAR(s.anon_mib, 400, kEps);  // the balloon never takes used memory
  EXPECT_EQ(s.oom_kills, 0);
  EXPECT_NEAR(s.target_mib, 256, kEps);
}

TEST(SimulatorTest, AllocationEvictsCacheBeforeAnythingElse) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kCache, 800},
                WorkloadOp{1, WorkloadOp::Kind::kAlloc, 500}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  SimGuestState s = State(sim, "vm1");
  ASSERT_NEAR(s.unused_mib, 1024 - 80 - 800, kEps);
  sim.AdvanceTo(1);
  s = State(sim, "vm1");
  // 144 MiB came from free memory, the other 356 from the cache.
  EXPECT_NEAR(s.anon_mib, 500, kEps);
  EXPECT_NEAR(s.unused_mib, 0, kEps);
  EXPECT_NEAR(s.cache_mib, 800 - 356, kEps);
  EXPECT_NEAR(s.swapped_mib, 0, kEps);
  EXPECT_EQ(s.oom_kills, 0);
}

TEST(SimulatorTest, CacheOnlyGrowsIntoFreeMemory) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 200},
                WorkloadOp{1, WorkloadOp::Kind::kCache, 5000, 1000},
                WorkloadOp{20, WorkloadOp::Kind::kDropCache}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  sim.AdvanceTo(10);
  SimGuestState s = State(sim, "vm1");
  EXPECT_NEAR(s.cache_mib, 1024 - 80 - 200, kEps);
  EXPECT_NEAR(s.unused_mib, 0, kEps);
  EXPECT_NEAR(s.usable_mib, s.cache_mib, kEps);
  EXPECT_NEAR(s.anon_mib, 200, kEps);
  EXPECT_EQ(s.oom_kills, 0);
  sim.AdvanceTo(20);
  s = State(sim, "vm1");
  EXPECT_NEAR(s.cache_mib, 0, kEps);
  EXPECT_NEAR(s.unused_mib, 1024 - 80 - 200, kEps);
}

TEST(SimulatorTest, AllocGrowsAtItsRate) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{2, WorkloadOp::Kind::kAlloc, 400, 40}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  sim.AdvanceTo(2);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 0, kEps);
  sim.AdvanceTo(3);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 40, kEps);
  sim.AdvanceTo(7);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 200, kEps);
  sim.AdvanceTo(30);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 400, kEps);
}

TEST(SimulatorTest, FreeAtRateAndFreeAll) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 600},
                WorkloadOp{1, WorkloadOp::Kind::kFree, 200, 50},
                WorkloadOp{10, WorkloadOp::Kind::kFreeAll}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  sim.AdvanceTo(3);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 600 - 100, kEps);
  sim.AdvanceTo(9);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 400, kEps);
  sim.AdvanceTo(10);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 0, kEps);
  EXPECT_NEAR(State(sim, "vm1").unused_mib, 1024 - 80, kEps);
}

TEST(SimulatorTest, AllocationBeyondMemoryWithoutSwapIsOomKilled) {
  ScenarioGuest g = Guest("vm1");  // 1024 - 80 = 944 MiB of room
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 2000, 100}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  sim.AdvanceTo(9);  // 900 MiB still fits
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 900, kEps);
  EXPECT_EQ(State(sim, "vm1").oom_kills, 0);
  sim.AdvanceTo(10);  // 1000 MiB does not
  SimGuestState s = State(sim, "vm1");
  EXPECT_EQ(s.oom_kills, 1);
  EXPECT_NEAR(s.anon_mib, 0, kEps);
  EXPECT_NEAR(s.swapped_mib, 0, kEps);
  EXPECT_EQ(sim.scores().oom_kills, 1);
  // The killed allocation is over: it does not start again.
  sim.AdvanceTo(60);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 0, kEps);
  EXPECT_EQ(sim.scores().oom_kills, 1);
}

TEST(SimulatorTest, AllocationBeyondMemorySwapsAndCountsIt) {
  ScenarioGuest g = Guest("vm1");
  g.swap_mib = 512;
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 1200, 100}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  clock.Set(20);
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  SimGuestState s = State(sim, "vm1");
  EXPECT_EQ(s.oom_kills, 0);
  EXPECT_NEAR(s.anon_mib, 1200, kEps);
  // 1200 MiB in 944 MiB of room: at least the difference went to swap.
  EXPECT_NEAR(s.swapped_mib, 1200 - 944, kEps);
  const GuestSample& r = Find(*snap, "vm1");
  ASSERT_TRUE(r.swap_out_kib && r.swap_in_kib && r.major_faults);
  EXPECT_GE(*r.swap_out_kib, MibToKib(1200 - 944));
  EXPECT_GT(*r.swap_in_kib, 0);  // the workload keeps touching its pages
  EXPECT_GT(*r.major_faults, 0);
  EXPECT_GT(*r.minor_faults, 0);

  clock.Set(21);
  Result<Snapshot> later = sim.Sample();
  ASSERT_TRUE(later.ok());
  EXPECT_GT(*Find(*later, "vm1").swap_in_kib, *r.swap_in_kib);
  EXPECT_GT(*Find(*later, "vm1").major_faults, *r.major_faults);
}

TEST(SimulatorTest, OomOnlyWhenSwapIsExhausted) {
  ScenarioGuest g = Guest("vm1");
  g.swap_mib = 512;
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 1600, 100}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  double most_swapped = 0;
  for (int i = 1; i <= 300; ++i) {
    sim.AdvanceTo(i * 0.1);
    SimGuestState s = State(sim, "vm1");
    if (s.oom_kills > 0) break;
    most_swapped = std::max(most_swapped, s.swapped_mib);
  }
  SimGuestState s = State(sim, "vm1");
  EXPECT_EQ(s.oom_kills, 1);
  // One step allocates 10 MiB: the kill came when less than that was left.
  EXPECT_GT(most_swapped, 512 - 10);
  EXPECT_LE(most_swapped, 512 + kEps);
  EXPECT_NEAR(s.anon_mib, 0, kEps);
  EXPECT_NEAR(s.swapped_mib, 0, kEps);
}

TEST(SimulatorTest, SwappedPagesComeBackWhenTheBalloonGrows) {
  ScenarioGuest g = Guest("vm1");
  g.swap_mib = 512;
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 1200}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  sim.AdvanceTo(5);
  const double swapped = State(sim, "vm1").swapped_mib;
  ASSERT_NEAR(swapped, 1200 - 944, kEps);  // thrashing keeps it in swap
  clock.Set(5);
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(2048)).ok());
  // The more is in swap, the faster it is touched and read back: well above
  // the 4 MiB/s a nearly empty swap drains at.
  sim.AdvanceTo(6);
  EXPECT_LT(State(sim, "vm1").swapped_mib, swapped - 15);
  EXPECT_GT(State(sim, "vm1").swapped_mib, 0);
  sim.AdvanceTo(120);
  SimGuestState s = State(sim, "vm1");
  EXPECT_NEAR(s.swapped_mib, 0, kEps);
  EXPECT_NEAR(s.anon_mib, 1200, kEps);
  EXPECT_NEAR(s.unused_mib, 2048 - 80 - 1200, kEps);
}

TEST(SimulatorTest, GuestWithoutStatsReportsNoOptionals) {
  ScenarioGuest quiet = Guest("quiet");
  quiet.stats = false;
  ManualClock clock;
  SimHypervisor sim(OneHost({quiet, Guest("chatty")}), &clock, 0);
  clock.Set(3);
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  const GuestSample& q = Find(*snap, "quiet");
  EXPECT_EQ(q.actual_kib, MibToKib(1024));
  EXPECT_EQ(q.maximum_kib, MibToKib(2048));
  EXPECT_TRUE(q.rss_kib.has_value());
  EXPECT_FALSE(q.has_stats());
  EXPECT_FALSE(q.usable_kib || q.memtotal_kib || q.swap_in_kib ||
               q.swap_out_kib || q.major_faults || q.minor_faults ||
               q.disk_caches_kib || q.stats_time_s);
  EXPECT_EQ(q.balloon.stats_period_s, 0);
  EXPECT_TRUE(Find(*snap, "chatty").has_stats());
  EXPECT_EQ(Find(*snap, "chatty").balloon.stats_period_s, 1);
}

TEST(SimulatorTest, StatsOpSwitchesReportingOffAndOn) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{2, WorkloadOp::Kind::kStats},
                WorkloadOp{5, WorkloadOp::Kind::kStats}};
  g.workload[0].on = false;
  g.workload[1].on = true;
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  clock.Set(1);
  EXPECT_TRUE(Find(*sim.Sample(), "vm1").has_stats());
  clock.Set(3);
  EXPECT_FALSE(Find(*sim.Sample(), "vm1").has_stats());
  clock.Set(6);
  Result<Snapshot> snap = sim.Sample();
  EXPECT_TRUE(Find(*snap, "vm1").has_stats());
  EXPECT_DOUBLE_EQ(*Find(*snap, "vm1").stats_time_s, 6);
}

TEST(SimulatorTest, StatsRefreshOncePerSecondAndAreStaleBetween) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 500, 100}};
  ManualClock clock(1000);
  SimHypervisor sim(OneHost({g}), &clock, 1000);
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  EXPECT_DOUBLE_EQ(snap->time_s, 1000);
  EXPECT_DOUBLE_EQ(*Find(*snap, "vm1").stats_time_s, 1000);
  EXPECT_EQ(*Find(*snap, "vm1").unused_kib, MibToKib(1024 - 80));

  clock.Set(1000.5);
  snap = sim.Sample();
  EXPECT_DOUBLE_EQ(snap->time_s, 1000.5);
  // The model moved on; the guest has not reported it yet.
  EXPECT_NEAR(State(sim, "vm1").unused_mib, 1024 - 80 - 50, kEps);
  EXPECT_DOUBLE_EQ(*Find(*snap, "vm1").stats_time_s, 1000);
  EXPECT_EQ(*Find(*snap, "vm1").unused_kib, MibToKib(1024 - 80));
  EXPECT_EQ(Find(*snap, "vm1").actual_kib, MibToKib(1024));

  clock.Set(1001);
  snap = sim.Sample();
  EXPECT_DOUBLE_EQ(*Find(*snap, "vm1").stats_time_s, 1001);
  EXPECT_EQ(*Find(*snap, "vm1").unused_kib, MibToKib(1024 - 80 - 100));
  EXPECT_EQ(*Find(*snap, "vm1").usable_kib, MibToKib(1024 - 80 - 100));
  EXPECT_EQ(*Find(*snap, "vm1").memtotal_kib, MibToKib(1024));
}

TEST(SimulatorTest, DestroyAndStart) {
  ScenarioGuest a = Guest("vm1");
  a.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 300},
                WorkloadOp{10, WorkloadOp::Kind::kDestroy},
                WorkloadOp{20, WorkloadOp::Kind::kStart}};
  ScenarioGuest b = Guest("vm2", 768);
  b.at_s = 5;
  ManualClock clock;
  SimHypervisor sim(OneHost({a, b}), &clock, 0);

  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->guests.size(), 1u);
  EXPECT_EQ(sim.SetTarget("vm2", MibToKib(1024)).code(),
            Status::Code::kNotFound);

  clock.Set(5);
  snap = sim.Sample();
  ASSERT_EQ(snap->guests.size(), 2u);
  EXPECT_EQ(Find(*snap, "vm2").actual_kib, MibToKib(768));
  EXPECT_TRUE(sim.SetTarget("vm2", MibToKib(1024)).ok());

  clock.Set(10);
  snap = sim.Sample();
  ASSERT_EQ(snap->guests.size(), 1u);
  EXPECT_EQ(snap->guests[0].name, "vm2");
  EXPECT_EQ(sim.SetTarget("vm1", MibToKib(1024)).code(),
            Status::Code::kNotFound);
  EXPECT_FALSE(State(sim, "vm1").running);

  clock.Set(20);
  snap = sim.Sample();
  ASSERT_EQ(snap->guests.size(), 2u);
  // A fresh boot: start size, no workload memory.
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 0, kEps);
  EXPECT_EQ(Find(*snap, "vm1").actual_kib, MibToKib(1024));
}

TEST(SimulatorTest, HostFreeIsTotalMinusHostUsedMinusGuests) {
  ScenarioGuest b = Guest("vm2", 2048);
  b.workload = {WorkloadOp{10, WorkloadOp::Kind::kDestroy}};
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1"), b}), &clock, 0);
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->host.total_kib, MibToKib(8192));
  EXPECT_EQ(snap->host.free_kib, MibToKib(8192 - 512 - 1024 - 2048));
  EXPECT_EQ(snap->host.available_kib, snap->host.free_kib);
  EXPECT_EQ(snap->host.buffers_kib, 0);
  EXPECT_EQ(snap->host.cached_kib, 0);

  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(1524)).ok());
  clock.Set(5);
  snap = sim.Sample();
  EXPECT_EQ(snap->host.free_kib, MibToKib(8192 - 512 - 1524 - 2048));
  clock.Set(10);
  snap = sim.Sample();
  EXPECT_EQ(snap->host.free_kib, MibToKib(8192 - 512 - 1524));
  EXPECT_NEAR(sim.host_free_mib(), 8192 - 512 - 1524, kEps);
}

TEST(SimulatorTest, HostFreeMayGoNegative) {
  Scenario s = OneHost({Guest("vm1", 2048), Guest("vm2", 2048)});
  s.host_total_mib = 4096;
  ManualClock clock;
  SimHypervisor sim(s, &clock, 0);
  EXPECT_NEAR(sim.host_free_mib(), 4096 - 512 - 4096, kEps);
  EXPECT_EQ(sim.Sample()->host.free_kib, MibToKib(-512));
}

TEST(SimulatorTest, SampleCarriesTargetMetadataAndRss) {
  ScenarioGuest g = Guest("vm1");
  g.min_mib = 512;
  g.shares = 2000;
  g.autodeflate = true;
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 100},
                WorkloadOp{0, WorkloadOp::Kind::kCache, 50}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g, Guest("vm2")}), &clock, 0);
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(900)).ok());
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  const GuestSample& s = Find(*snap, "vm1");
  EXPECT_EQ(s.target_kib, MibToKib(900));
  EXPECT_EQ(s.metadata.min_mib, 512);
  EXPECT_EQ(s.metadata.shares, 2000);
  EXPECT_EQ(s.rss_kib, MibToKib(80 + 100 + 50));
  EXPECT_EQ(s.disk_caches_kib, MibToKib(50));
  EXPECT_EQ(s.balloon.autodeflate, true);
  EXPECT_EQ(Find(*snap, "vm2").balloon.autodeflate, false);  // the default
  EXPECT_TRUE(Find(*snap, "vm2").metadata.empty());
  EXPECT_EQ(Find(*snap, "vm2").target_kib, MibToKib(1024));
}

TEST(SimulatorTest, SetTargetRejectsOutOfRangeAndCountsActions) {
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1")}), &clock, 0);
  EXPECT_EQ(sim.SetTarget("vm1", MibToKib(2049)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(sim.SetTarget("vm1", -1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(sim.SetTarget("nope", MibToKib(1000)).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(sim.scores().actions, 0);

  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(1524)).ok());
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(1024)).ok());
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(2048)).ok());  // max is allowed
  Scores s = sim.scores();
  EXPECT_EQ(s.actions, 3);
  EXPECT_NEAR(s.moved_mib, 500 + 500 + 1024, kEps);
  EXPECT_EQ(sim.Health().calls.at("set_target"), 6);
}

// Hand-checked: vm1 (1200 MiB, 80 base) wastes 1120 - 300 = 820 MiB until it
// allocates 1100 MiB at t=5, after which usable is 20 < max(64, 5% of 1200)
// for 5 s. vm2 appears at t=4 with 200 MiB, taking host free from 300 to 100,
// under the 200 MiB reserve for 6 s.
TEST(SimulatorTest, ScoresOnAHandCheckedScenario) {
  ScenarioGuest a = Guest("vm1", 1200);
  a.workload = {WorkloadOp{5, WorkloadOp::Kind::kAlloc, 1100}};
  ScenarioGuest b = Guest("vm2", 200);
  b.at_s = 4;
  Scenario s = OneHost({a, b});
  s.duration_s = 10;
  s.host_total_mib = 2000;
  s.host_used_mib = 500;
  ManualClock clock;
  SimHypervisor sim(s, &clock, 0);
  sim.AdvanceTo(10);
  Scores sc = sim.scores();
  EXPECT_EQ(sc.oom_kills, 0);
  EXPECT_NEAR(sc.pressure_s, 5, kEps);
  EXPECT_NEAR(sc.host_low_s, 6, kEps);
  EXPECT_NEAR(sc.waste_mib, 820.0 * 5 / 10, kEps);
  EXPECT_NEAR(sc.host_free_mib, (300.0 * 4 + 100.0 * 6) / 10, kEps);
  EXPECT_EQ(sc.actions, 0);
  EXPECT_NEAR(sc.moved_mib, 0, kEps);
}

TEST(SimulatorTest, SwappingCountsAsPressureEvenWithFreeMemory) {
  ScenarioGuest g = Guest("vm1");
  g.swap_mib = 512;
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 1200}};
  Scenario s = OneHost({g});
  s.duration_s = 100;
  ManualClock clock;
  SimHypervisor sim(s, &clock, 0);
  ASSERT_TRUE(sim.SetTarget("vm1", MibToKib(2048)).ok());
  // Find when the last page came back from swap; usable was above the line
  // long before that, after a few seconds of balloon growth.
  double swap_free_at = -1;
  double usable_ok_at = -1;
  for (int i = 1; i <= 1000; ++i) {
    sim.AdvanceTo(i * 0.1);
    SimGuestState st = State(sim, "vm1");
    if (usable_ok_at < 0 && st.usable_mib >= 64) usable_ok_at = i * 0.1;
    if (st.swapped_mib == 0) {
      swap_free_at = i * 0.1;
      break;
    }
  }
  ASSERT_GT(swap_free_at, 0);
  ASSERT_GT(usable_ok_at, 0);
  ASSERT_LT(usable_ok_at + 5, swap_free_at);
  EXPECT_NEAR(sim.scores().pressure_s, swap_free_at, 0.1 + kEps);
}

TEST(SimulatorTest, SameCallsGiveTheSameNumbers) {
  auto run = [] {
    ScenarioGuest a = Guest("vm1");
    a.swap_mib = 256;
    a.workload = {WorkloadOp{1, WorkloadOp::Kind::kAlloc, 1500, 37},
                  WorkloadOp{2, WorkloadOp::Kind::kCache, 300, 13},
                  WorkloadOp{40, WorkloadOp::Kind::kFree, 700, 21}};
    ScenarioGuest b = Guest("vm2", 700);
    b.workload = {WorkloadOp{3, WorkloadOp::Kind::kAlloc, 2000, 55}};
    ManualClock clock;
    SimHypervisor sim(OneHost({a, b}), &clock, 0);
    for (int t = 0; t < 120; t += 3) {
      clock.Set(t);
      Result<Snapshot> snap = sim.Sample();
      for (const GuestSample& g : snap->guests) {
        if (g.usable_kib && *g.usable_kib < MibToKib(200)) {
          (void)sim.SetTarget(
              g.name, std::min(g.maximum_kib, g.actual_kib + MibToKib(150)));
        }
      }
    }
    sim.AdvanceTo(120);
    return std::make_pair(sim.scores(), sim.guests());
  };
  auto [s1, g1] = run();
  auto [s2, g2] = run();
  EXPECT_EQ(s1.oom_kills, s2.oom_kills);
  EXPECT_EQ(s1.pressure_s, s2.pressure_s);
  EXPECT_EQ(s1.host_low_s, s2.host_low_s);
  EXPECT_EQ(s1.waste_mib, s2.waste_mib);
  EXPECT_EQ(s1.host_free_mib, s2.host_free_mib);
  EXPECT_EQ(s1.actions, s2.actions);
  EXPECT_EQ(s1.moved_mib, s2.moved_mib);
  EXPECT_GT(s1.actions, 0);
  ASSERT_EQ(g1.size(), g2.size());
  for (size_t i = 0; i < g1.size(); ++i) {
    EXPECT_EQ(g1[i].actual_mib, g2[i].actual_mib);
    EXPECT_EQ(g1[i].anon_mib, g2[i].anon_mib);
    EXPECT_EQ(g1[i].swapped_mib, g2[i].swapped_mib);
    EXPECT_EQ(g1[i].cache_mib, g2[i].cache_mib);
  }
}

TEST(SimulatorTest, SampleFailsFault) {
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1")}), &clock, 0);
  sim.faults().sample_fails = true;
  clock.Set(2);
  Result<Snapshot> snap = sim.Sample();
  EXPECT_EQ(snap.status().code(), Status::Code::kUnavailable);
  HypervisorHealth h = sim.Health();
  EXPECT_FALSE(h.up);
  EXPECT_EQ(h.calls.at("sample"), 1);
  // Time went on while the connection was down.
  EXPECT_NEAR(sim.scenario_time_s(), 2, kEps);
  sim.faults().sample_fails = false;
  EXPECT_TRUE(sim.Sample().ok());
  EXPECT_TRUE(sim.Health().up);
  EXPECT_EQ(sim.Health().calls.at("sample"), 2);
}

TEST(SimulatorTest, HealthTimesEveryCallByName) {
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1")}), &clock, 0);
  EXPECT_TRUE(sim.Sample().ok());
  EXPECT_TRUE(sim.Sample().ok());
  EXPECT_TRUE(sim.SetTarget("vm1", MibToKib(600)).ok());
  HypervisorHealth h = sim.Health();
  ASSERT_EQ(h.call_durations.count("sample"), 1u);
  ASSERT_EQ(h.call_durations.count("set_target"), 1u);
  const CallDurations& sample = h.call_durations.at("sample");
  EXPECT_EQ(sample.count, h.calls.at("sample"));
  EXPECT_EQ(h.call_durations.at("set_target").count, 1);
  EXPECT_GE(sample.sum_s, 0);
  // An in-process call of a one-guest host ends within the last bound.
  int64_t in_buckets = 0;
  for (int64_t n : sample.buckets) in_buckets += n;
  EXPECT_EQ(in_buckets, 2);
}

TEST(CallDurationsTest, EachCallLandsInTheFirstBucketThatHoldsIt) {
  CallDurations d;
  d.Observe(0.0001);  // on a bound: that bucket
  d.Observe(0.00011);
  d.Observe(10);
  d.Observe(11);  // above every bound: only in count and sum
  EXPECT_EQ(d.count, 4);
  EXPECT_NEAR(d.sum_s, 21.00021, 1e-12);
  EXPECT_EQ(d.buckets[0], 1);
  EXPECT_EQ(d.buckets[1], 1);
  EXPECT_EQ(d.buckets[CallDurations::kBuckets.size() - 1], 1);
  int64_t in_buckets = 0;
  for (int64_t n : d.buckets) in_buckets += n;
  EXPECT_EQ(in_buckets, 3);
  EXPECT_EQ(CallDurations::kBuckets.front(), 0.0001);
  EXPECT_EQ(CallDurations::kBuckets.back(), 10);
}

TEST(SimulatorTest, SetFailsFaultCostsOnlyThatGuest) {
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1"), Guest("vm2")}), &clock, 0);
  sim.faults().set_fails.insert("vm1");
  EXPECT_EQ(sim.SetTarget("vm1", MibToKib(1500)).code(),
            Status::Code::kUnavailable);
  EXPECT_TRUE(sim.SetTarget("vm2", MibToKib(1500)).ok());
  sim.AdvanceTo(5);
  EXPECT_NEAR(State(sim, "vm1").actual_mib, 1024, kEps);
  EXPECT_NEAR(State(sim, "vm2").actual_mib, 1500, kEps);
  EXPECT_EQ(sim.scores().actions, 1);
}

TEST(SimulatorTest, StaleFaultFreezesStats) {
  ScenarioGuest g = Guest("vm1");
  g.workload = {WorkloadOp{0, WorkloadOp::Kind::kAlloc, 500, 50}};
  ManualClock clock;
  SimHypervisor sim(OneHost({g}), &clock, 0);
  clock.Set(2);
  Result<Snapshot> before = sim.Sample();
  sim.faults().stale.insert("vm1");
  clock.Set(6);
  Result<Snapshot> after = sim.Sample();
  ASSERT_TRUE(before.ok() && after.ok());
  const GuestSample& b = Find(*before, "vm1");
  const GuestSample& a = Find(*after, "vm1");
  EXPECT_DOUBLE_EQ(*a.stats_time_s, 2);
  EXPECT_EQ(*a.unused_kib, *b.unused_kib);
  EXPECT_NEAR(State(sim, "vm1").anon_mib, 300, kEps);
}

TEST(SimulatorTest, VanishOnSetFaultDestroysTheGuest) {
  ManualClock clock;
  SimHypervisor sim(OneHost({Guest("vm1"), Guest("vm2")}), &clock, 0);
  sim.faults().vanish_on_set.insert("vm2");
  EXPECT_EQ(sim.SetTarget("vm2", MibToKib(1500)).code(),
            Status::Code::kNotFound);
  Result<Snapshot> snap = sim.Sample();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->guests.size(), 1u);
  EXPECT_EQ(snap->guests[0].name, "vm1");
  EXPECT_NEAR(sim.host_free_mib(), 8192 - 512 - 1024, kEps);
}

}  // namespace
}  // namespace memcoord
