// The classic test cases on the simulator, with every policy: at every tick
// the applied plan keeps every guardrail, and runs are deterministic.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "memcoord/guardrails.h"
#include "memcoord/policy.h"
#include "memcoord/scenario_loader.h"
#include "memcoord/simulate.h"

namespace memcoord {
namespace {

std::vector<std::string> ClassicFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(MEMCOORD_SCENARIO_DIR)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("classic-", 0) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ClassicScenarioTest
    : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ClassicScenarioTest, EveryTickKeepsEveryGuardrail) {
  const auto& [file, policy] = GetParam();
  Result<Scenario> scenario = LoadScenarioFile(file);
  ASSERT_TRUE(scenario.ok()) << scenario.status().message();
  int ticks = 0;
  int actions = 0;
  RunOptions options;
  options.on_tick = [&](const TickReport& report, const SimHypervisor&) {
    ++ticks;
    ASSERT_TRUE(report.sample_status.ok());
    GuardrailParams rails;
    rails.stale_after_s = 3 * scenario->interval_s;
    rails.guest_budget_kib = report.snapshot.guest_budget_kib;
    for (const std::string& v : Violations(report.applied, report.snapshot, rails)) {
      ADD_FAILURE() << file << " t=" << report.time_s << ": " << v;
    }
    for (const Action& a : report.applied.actions) {
      const GuestSample* g = report.snapshot.Find(a.domain);
      ASSERT_NE(g, nullptr);
      if (a.grow()) {
        EXPECT_LE(a.target_kib, g->ceiling_kib());
      } else {
        EXPECT_GE(a.target_kib, g->limits.floor_kib);
      }
    }
    actions += static_cast<int>(report.applied.actions.size());
  };
  Result<RunResult> r = RunScenario(*scenario, policy, Config{}, options);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(ticks, 10);
  EXPECT_GT(actions, 0) << "the scenario should make the policy act";
  EXPECT_EQ(r->scores.actions, actions);
}

TEST_P(ClassicScenarioTest, SameInputSameScores) {
  const auto& [file, policy] = GetParam();
  Result<Scenario> scenario = LoadScenarioFile(file);
  ASSERT_TRUE(scenario.ok());
  Result<RunResult> a = RunScenario(*scenario, policy, Config{});
  Result<RunResult> b = RunScenario(*scenario, policy, Config{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(FormatScoreTable({*a}), FormatScoreTable({*b}));
}

std::vector<std::tuple<std::string, std::string>> Cases() {
  std::vector<std::tuple<std::string, std::string>> cases;
  for (const std::string& f : ClassicFiles()) {
    for (const std::string& p : PolicyNames()) cases.emplace_back(f, p);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Classic, ClassicScenarioTest, ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<ClassicScenarioTest::ParamType>& info) {
      std::string name = std::filesystem::path(std::get<0>(info.param)).stem().string() +
                         "_" + std::get<1>(info.param);
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(ClassicScenarioFilesTest, AllThreeArePresent) {
  EXPECT_EQ(ClassicFiles().size(), 3u);
}

}  // namespace
}  // namespace memcoord
