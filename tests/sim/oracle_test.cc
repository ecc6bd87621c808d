// The oracle (oracle_policy.h) on small hand-made scenarios, and the demand
// trace it reads (workload.h) against the simulator it predicts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "memcoord/config.h"
#include "memcoord/oracle_policy.h"
#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/scenario_loader.h"
#include "memcoord/simulate.h"
#include "memcoord/simulator.h"
#include "memcoord/workload.h"
#include "scenario_set.h"

namespace memcoord {
namespace {

using testing::FileAndInterval;

WorkloadOp Op(double at_s, WorkloadOp::Kind kind, double mib = 0,
              double rate = 0) {
  WorkloadOp op;
  op.at_s = at_s;
  op.kind = kind;
  op.mib = mib;
  op.rate_mib_s = rate;
  return op;
}

ScenarioGuest Guest(std::string name, double start_mib, double max_mib) {
  ScenarioGuest g;
  g.name = std::move(name);
  g.start_mib = start_mib;
  g.max_mib = max_mib;
  g.base_used_mib = 80;
  g.balloon_rate_mib_s = 200;
  return g;
}

// Per tick: each guest's target after the tick, and every applied action.
struct Traced {
  Scores scores;
  std::map<double, std::map<std::string, SimGuestState>> states;
  std::vector<std::pair<double, Action>> actions;
};

Traced RunOracle(const Scenario& s) {
  Traced out;
  RunOptions options;
  options.on_tick = [&out](const TickReport& report, const SimHypervisor& sim) {
    for (const SimGuestState& g : sim.guests()) {
      out.states[report.time_s][g.name] = g;
    }
    for (const Action& a : report.applied.actions) {
      out.actions.emplace_back(report.time_s, a);
    }
  };
  Result<RunResult> r =
      RunScenario(s, std::string(kOraclePolicyName), Config{}, options);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (r.ok()) out.scores = r->scores;
  return out;
}

TEST(OracleTest, GrowsAGuestBeforeItsAllocationStarts) {
  Scenario s;
  s.name = "ahead";
  s.duration_s = 80;
  s.interval_s = 2;
  s.host_total_mib = 8192;
  s.host_used_mib = 512;
  ScenarioGuest vm = Guest("vm", 512, 4096);
  // 1,500 MiB at 150 MiB/s from t = 21 s: faster than a decision every 2 s
  // can follow from behind, and the guest has 432 MiB free before it.
  vm.workload = {Op(21, WorkloadOp::Kind::kAlloc, 1500, 150)};
  s.guests = {vm};
  ASSERT_TRUE(ValidateScenario(s).ok());

  const Traced t = RunOracle(s);
  EXPECT_EQ(t.scores.oom_kills, 0);
  EXPECT_EQ(t.scores.pressure_s, 0);
  // The first grow is set before the allocation starts, while the guest
  // uses nothing but its 80 MiB base ...
  std::optional<double> first_grow;
  for (const auto& [time, a] : t.actions) {
    if (a.domain == "vm" && a.grow()) {
      first_grow = time;
      break;
    }
  }
  ASSERT_TRUE(first_grow.has_value());
  EXPECT_LT(*first_grow, 21);
  // ... and at the last tick before it the guest already has more than it
  // had at the start, as seen from the simulator itself.
  const SimGuestState& before = t.states.at(20.0).at("vm");
  EXPECT_NEAR(before.anon_mib, 0, 1e-9);
  EXPECT_GT(before.target_mib, 512);
}

TEST(OracleTest, GrowsEarlyEnoughForABalloonSlowerThanTheAllocation) {
  for (const double interval : {1.0, 2.0, 5.0}) {
    SCOPED_TRACE(interval);
    Scenario s;
    s.name = "slow";
    s.duration_s = 120;
    s.interval_s = interval;
    s.host_total_mib = 8192;
    s.host_used_mib = 512;
    ScenarioGuest vm = Guest("vm", 512, 4096);
    // 1,500 MiB at 50 MiB/s from t = 30 s, through a balloon that moves 25
    // MiB/s: over the 30 s of the burst the balloon delivers only 750 MiB,
    // so it must be well on its way before the burst starts, not only before
    // the guest's 432 MiB of free memory run out.
    constexpr double kRate = 25, kBurstS = 30, kPeak = 80 + 1500;
    vm.balloon_rate_mib_s = kRate;
    vm.workload = {Op(30, WorkloadOp::Kind::kAlloc, 1500, 1500 / kBurstS)};
    s.guests = {vm};
    ASSERT_TRUE(ValidateScenario(s).ok());

    const Traced t = RunOracle(s);
    EXPECT_EQ(t.scores.oom_kills, 0);
    EXPECT_EQ(t.scores.pressure_s, 0);
    EXPECT_EQ(t.scores.host_low_s, 0);
    // When the burst starts, what the balloon can still deliver during it
    // reaches the peak with room above the pressure line.
    const SimGuestState& before = t.states.at(30.0).at("vm");
    EXPECT_NEAR(before.anon_mib, 0, 1e-9);
    EXPECT_GE(before.actual_mib + kRate * kBurstS,
              kPeak + SimPressureLineMib(kPeak));
  }
}

TEST(OracleTest, SharesByShareWhenDemandDoesNotFit) {
  Scenario s;
  s.name = "short";
  s.duration_s = 90;
  s.interval_s = 1;
  s.host_total_mib = 4096;
  s.host_used_mib = 512;  // 3,384 MiB for guests above the 200 MiB reserve
  ScenarioGuest big = Guest("big", 512, 3072);
  big.shares = 3000;
  big.swap_mib = 2048;  // what does not fit swaps instead of being killed
  big.workload = {Op(10, WorkloadOp::Kind::kAlloc, 2000, 50)};
  ScenarioGuest small = big;
  small.name = "small";
  small.shares = 1000;
  // Both want about 2,080 + 150 MiB at once: 4,460 MiB of 3,384.
  s.guests = {big, small};
  ASSERT_TRUE(ValidateScenario(s).ok());

  const Traced t = RunOracle(s);
  EXPECT_EQ(t.scores.host_low_s, 0);
  const auto& end = t.states.at(85.0);
  const SimGuestState& b = end.at("big");
  const SimGuestState& m = end.at("small");
  // The same deficit, three times the shares: the larger share of memory,
  // enough for big's whole demand; the rest goes to small.
  EXPECT_GT(b.actual_mib, m.actual_mib + 500);
  EXPECT_GE(b.usable_mib, SimPressureLineMib(b.actual_mib));
  EXPECT_NEAR(b.swapped_mib, 0, 1e-9);
  EXPECT_GT(m.swapped_mib, 0);
  EXPECT_GE(b.actual_mib + m.actual_mib, 3384 - 64);
  EXPECT_LE(b.actual_mib + m.actual_mib, 3384 + 1e-6);

  // Equal shares: equal memory.
  s.guests[0].shares = 1000;
  const Traced even = RunOracle(s);
  const auto& even_end = even.states.at(85.0);
  EXPECT_NEAR(even_end.at("big").actual_mib, even_end.at("small").actual_mib,
              8);
}

TEST(OracleTest, DaemonCannotBuildIt) {
  Result<std::unique_ptr<Policy>> p =
      MakePolicy(kOraclePolicyName, PolicyParams{});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("clairvoyant"), std::string::npos);
  Config c;
  c.policy = std::string(kOraclePolicyName);
  Status valid = c.Validate();
  ASSERT_FALSE(valid.ok());
  EXPECT_NE(valid.message().find("simulate"), std::string::npos);
}

TEST(WorkloadTraceTest, FollowsRatesFreeAllAndLifecycle) {
  ScenarioGuest g = Guest("g", 512, 2048);
  g.at_s = 2;
  g.workload = {Op(3, WorkloadOp::Kind::kAlloc, 100, 50),
                Op(4, WorkloadOp::Kind::kAlloc, 100, 0),
                Op(6, WorkloadOp::Kind::kFree, 60, 30),
                Op(10, WorkloadOp::Kind::kFreeAll),
                Op(11, WorkloadOp::Kind::kAlloc, 40, 0),
                Op(12, WorkloadOp::Kind::kDestroy),
                Op(14, WorkloadOp::Kind::kStart)};
  const DemandTrace t = TraceDemand(g, 20, 0.1);
  ASSERT_EQ(t.size(), 201u);
  auto at = [&t](double s) { return t.used_mib[t.StepAt(s)]; };
  EXPECT_FALSE(t.running[t.StepAt(1)]);
  EXPECT_EQ(at(1), 0);
  EXPECT_NEAR(at(2), 80, 1e-9);
  EXPECT_NEAR(at(3.5), 80 + 25, 1e-6);      // 0.5 s at 50 MiB/s
  EXPECT_NEAR(at(4), 80 + 50 + 100, 1e-6);  // plus 100 at once
  EXPECT_NEAR(at(5.5), 80 + 200, 1e-6);
  EXPECT_NEAR(at(7), 80 + 200 - 30, 1e-6);  // freeing at 30 MiB/s
  EXPECT_NEAR(at(10), 80, 1e-9);
  EXPECT_NEAR(at(11), 120, 1e-9);
  EXPECT_EQ(at(13), 0);
  EXPECT_NEAR(at(15), 80, 1e-9);  // a fresh boot
  EXPECT_NEAR(t.PeakUsedMib(0, t.size()), 280, 1e-6);
}

// The trace predicts the simulator: under the oracle (which kills nothing
// where demand fits) each guest's base + anon is what TraceDemand said.
class TraceMatchesSimulatorTest
    : public ::testing::TestWithParam<FileAndInterval> {};

TEST_P(TraceMatchesSimulatorTest, OnEveryTick) {
  Result<Scenario> loaded = LoadScenarioFile(std::get<0>(GetParam()));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  Scenario s = *loaded;
  s.interval_s = std::get<1>(GetParam());
  if (!testing::DemandFits(s)) GTEST_SKIP() << "demand does not fit";
  std::map<std::string, DemandTrace> traces;
  for (const ScenarioGuest& g : s.guests) {
    traces.emplace(g.name,
                   TraceDemand(g, s.duration_s, SimHypervisor::kDefaultStepS));
  }
  int mismatches = 0;
  RunOptions options;
  options.on_tick = [&](const TickReport& report, const SimHypervisor& sim) {
    for (const SimGuestState& g : sim.guests()) {
      const DemandTrace& t = traces.at(g.name);
      const size_t k = t.StepAt(report.time_s);
      const double sim_used = g.running ? g.base_used_mib + g.anon_mib : 0;
      if (t.running[k] != g.running ||
          std::abs(t.used_mib[k] - sim_used) > 1e-6) {
        if (++mismatches <= 5) {
          ADD_FAILURE() << s.name << " t=" << report.time_s << " " << g.name
                        << ": trace " << t.used_mib[k] << ", simulator "
                        << sim_used;
        }
      }
    }
  };
  Result<RunResult> r =
      RunScenario(s, std::string(kOraclePolicyName), Config{}, options);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(
    PublicScenarios, TraceMatchesSimulatorTest,
    ::testing::Combine(::testing::ValuesIn(testing::PublicScenarioFiles()),
                       ::testing::Values(2.0)),
    testing::FileAndIntervalName);

}  // namespace
}  // namespace memcoord
