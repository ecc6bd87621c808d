#include "memcoord/simulate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "memcoord/config.h"
#include "memcoord/scenario.h"

namespace memcoord {
namespace {

WorkloadOp Alloc(double at_s, double mib, double rate_mib_s) {
  WorkloadOp op;
  op.at_s = at_s;
  op.kind = WorkloadOp::Kind::kAlloc;
  op.mib = mib;
  op.rate_mib_s = rate_mib_s;
  return op;
}

WorkloadOp FreeAll(double at_s) {
  WorkloadOp op;
  op.at_s = at_s;
  op.kind = WorkloadOp::Kind::kFreeAll;
  return op;
}

// The first classic test case, small: vm1 allocates past its starting size
// while three guests stay idle, then frees.
Scenario OneHungryGuest(double duration_s = 120) {
  Scenario s;
  s.name = "one-hungry";
  s.duration_s = duration_s;
  s.interval_s = 1;
  s.host_total_mib = 8192;
  s.host_used_mib = 512;
  for (int i = 1; i <= 4; ++i) {
    ScenarioGuest g;
    g.name = "vm" + std::to_string(i);
    g.max_mib = 2048;
    g.start_mib = 1024;
    g.base_used_mib = 80;
    g.balloon_rate_mib_s = 200;
    s.guests.push_back(g);
  }
  s.guests[0].workload = {Alloc(5, 1700, 40), FreeAll(duration_s * 0.75)};
  return s;
}

TEST(SimulateTest, SeedPolicyKeepsTheHungryGuestAliveWhereNoActionDoesNot) {
  Scenario s = OneHungryGuest();
  Config idle;
  idle.dry_run = true;
  Result<RunResult> baseline = RunScenario(s, "seed", idle);
  ASSERT_TRUE(baseline.ok()) << baseline.status().ToString();
  // 1700 MiB does not fit in 1024 - 80 MiB without help.
  EXPECT_EQ(baseline->scores.oom_kills, 1);
  EXPECT_EQ(baseline->scores.actions, 0);

  Result<RunResult> seed = RunScenario(s, "seed", Config());
  ASSERT_TRUE(seed.ok()) << seed.status().ToString();
  EXPECT_EQ(seed->scenario, "one-hungry");
  EXPECT_EQ(seed->policy, "seed");
  EXPECT_EQ(seed->scores.oom_kills, 0);
  EXPECT_GT(seed->scores.actions, 0);
  EXPECT_GT(seed->scores.moved_mib, 0);
  // It also takes memory back from the idle guests.
  EXPECT_LT(seed->scores.waste_mib, baseline->scores.waste_mib);
}

TEST(SimulateTest, TicksEveryIntervalWithTheSimulatorAtTickTime) {
  Scenario s = OneHungryGuest(30);
  s.interval_s = 2.5;
  std::vector<double> ticks;
  RunOptions options;
  options.keep_timeline = true;
  options.on_tick = [&](const TickReport& report, const SimHypervisor& sim) {
    EXPECT_DOUBLE_EQ(report.time_s, sim.scenario_time_s());
    EXPECT_TRUE(report.sample_status.ok());
    EXPECT_EQ(report.policy, "seed");
    EXPECT_DOUBLE_EQ(report.params.interval_s, 2.5);
    ticks.push_back(report.time_s);
  };
  Result<RunResult> r = RunScenario(s, "seed", Config(), options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(ticks.size(), 12u);  // 0, 2.5, ... 27.5
  for (size_t k = 0; k < ticks.size(); ++k) {
    EXPECT_DOUBLE_EQ(ticks[k], 2.5 * static_cast<double>(k));
  }
  ASSERT_EQ(r->timeline.size(), ticks.size() * 4);
  EXPECT_DOUBLE_EQ(r->timeline.back().time_s, 27.5);
  EXPECT_EQ(r->timeline.back().domain, "vm4");
  EXPECT_DOUBLE_EQ(r->timeline.front().actual_mib, 1024);
  EXPECT_DOUBLE_EQ(r->timeline.front().host_free_mib, 8192 - 512 - 4 * 1024);
}

TEST(SimulateTest, ScenarioBudgetReachesTheController) {
  Scenario s = OneHungryGuest(20);
  s.guest_budget_mib = 4096;
  Config base;
  base.host.guest_budget_mib = 100000;
  bool seen = false;
  RunOptions options;
  options.on_tick = [&](const TickReport& report, const SimHypervisor&) {
    ASSERT_TRUE(report.snapshot.guest_budget_kib.has_value());
    EXPECT_EQ(*report.snapshot.guest_budget_kib, MibToKib(4096));
    seen = true;
  };
  ASSERT_TRUE(RunScenario(s, "seed", base, options).ok());
  EXPECT_TRUE(seen);
}

TEST(SimulateTest, RequireAutodeflateNeverShrinksAGuestWithoutIt) {
  // vm2 idles at 1024 MiB with most of it unused: every policy reclaims from
  // it, unless its balloon lacks autodeflate and the guardrail is on.
  Scenario s = OneHungryGuest(60);
  s.guests[1].autodeflate = false;
  s.guests[2].autodeflate = true;
  Config require;
  require.guardrails.require_autodeflate = true;
  int64_t autodeflate_clamps = 0;
  double vm2_lowest = 1e9;
  double vm3_lowest = 1e9;
  bool guarded = true;
  RunOptions options;
  options.on_tick = [&](const TickReport& report, const SimHypervisor&) {
    autodeflate_clamps += report.clamps[Rule::kAutodeflate];
    for (const GuestSample& g : report.snapshot.guests) {
      if (g.name == "vm2") vm2_lowest = std::min(vm2_lowest, KibToMib(g.actual_kib));
      if (g.name == "vm3") vm3_lowest = std::min(vm3_lowest, KibToMib(g.actual_kib));
    }
    for (const Action& a : report.applied.actions) {
      EXPECT_FALSE(guarded && a.domain == "vm2" && !a.grow())
          << "vm2 shrunk at " << report.time_s;
    }
  };
  Result<RunResult> r = RunScenario(s, "adaptive", require, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(autodeflate_clamps, 0);
  EXPECT_DOUBLE_EQ(vm2_lowest, 1024);
  EXPECT_LT(vm3_lowest, 1024);  // a guest with autodeflate is reclaimed

  // Without the guardrail vm2 gives memory back like the others.
  vm2_lowest = vm3_lowest = 1e9;
  autodeflate_clamps = 0;
  guarded = false;
  ASSERT_TRUE(RunScenario(s, "adaptive", Config(), options).ok());
  EXPECT_EQ(autodeflate_clamps, 0);
  EXPECT_LT(vm2_lowest, 1024);
}

TEST(SimulateTest, SameInputsGiveByteIdenticalOutput) {
  Scenario s = OneHungryGuest();
  s.guests[2].workload = {Alloc(20, 900, 25)};
  RunOptions options;
  options.keep_timeline = true;
  Result<RunResult> a = RunScenario(s, "seed", Config(), options);
  Result<RunResult> b = RunScenario(s, "seed", Config(), options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(FormatScoreTable({*a}), FormatScoreTable({*b}));
  EXPECT_EQ(FormatTimelineCsv(a->timeline), FormatTimelineCsv(b->timeline));
  EXPECT_EQ(a->scores.pressure_s, b->scores.pressure_s);
  EXPECT_EQ(a->scores.moved_mib, b->scores.moved_mib);
}

TEST(SimulateTest, RejectsAnInvalidScenarioAndAnUnknownPolicy) {
  Scenario s = OneHungryGuest();
  s.guests[1].start_mib = 4096;
  Result<RunResult> bad = RunScenario(s, "seed", Config());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("start_mib"), std::string::npos);

  Result<RunResult> unknown = RunScenario(OneHungryGuest(), "bogus", Config());
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("bogus"), std::string::npos);
}

TEST(SimulateTest, ScoreTableIsFixedWidthWithOneDecimal) {
  RunResult a;
  a.scenario = "gt-testcase-1";
  a.policy = "seed";
  a.scores = {2, 12.345, 0, 1234.56, 3000.04, 17, 4096};
  RunResult b;
  b.scenario = "x";
  b.policy = "adaptive";
  b.scores = {0, 0.06, 7.26, 0, -12.5, 3, 0.5};
  const std::string table = FormatScoreTable({a, b});
  std::istringstream in(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "scenario       policy    oom_kills  pressure_s  host_low_s  "
            "waste_mib  host_free_mib  actions  moved_mib");
  EXPECT_EQ(lines[1],
            "gt-testcase-1  seed              2        12.3         0.0  "
            "   1234.6         3000.0       17     4096.0");
  EXPECT_EQ(lines[2],
            "x              adaptive          0         0.1         7.3  "
            "      0.0          -12.5        3        0.5");
  EXPECT_EQ(table.back(), '\n');
}

TEST(SimulateTest, TimelineCsvHasHeaderAndOneRowPerEntry) {
  std::vector<TimelineRow> rows = {
      {0, "vm1", 1024, 1024, 944, 944, 3584},
      {2.5, "odd,name", 1100.25, 1200, 10.04, 50, -20},
  };
  EXPECT_EQ(FormatTimelineCsv(rows),
            "time_s,domain,actual_mib,target_mib,unused_mib,usable_mib,"
            "host_free_mib\n"
            "0,vm1,1024.0,1024.0,944.0,944.0,3584.0\n"
            "2.5,\"odd,name\",1100.2,1200.0,10.0,50.0,-20.0\n");
  EXPECT_EQ(FormatTimelineCsv({}),
            "time_s,domain,actual_mib,target_mib,unused_mib,usable_mib,"
            "host_free_mib\n");
}

// Not an assertion (wall time depends on the machine); the figure is printed
// so that a slow-down shows in the test log. tests/bench measures it properly.
TEST(SimulateTest, PrintsTheRealTimeRatioOfASimulatedHour) {
  Scenario s = OneHungryGuest(3600);
  s.guests[0].workload = {Alloc(5, 1700, 40), FreeAll(900)};
  s.guests[1].workload = {Alloc(600, 1500, 30), FreeAll(1800)};
  s.guests[2].workload = {Alloc(1200, 800, 10)};
  s.guests[3].workload = {Alloc(2400, 1200, 60), FreeAll(3000)};
  const auto start = std::chrono::steady_clock::now();
  Result<RunResult> r = RunScenario(s, "seed", Config());
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->scores.actions, 0);
  const double ratio = 3600 / std::max(wall_s, 1e-9);
  std::cout << "simulated 3600 s of 4 guests in " << wall_s << " s wall time ("
            << ratio << "x real time)\n";
  RecordProperty("simulated_hour_wall_ms",
                 std::to_string(static_cast<int64_t>(wall_s * 1000)));
}

}  // namespace
}  // namespace memcoord
