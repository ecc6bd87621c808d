// A guest whose balloon has autodeflate keeps MemTotal at its boot size and
// counts its balloon as used (the simulator reports it so, as Linux does).
// The adaptive policy must see the same demand either way: with every guest
// of a public scenario switched to autodeflate it scores as without. Reading
// demand as MemTotal - MemFree instead takes the balloon for demand: every
// reclaim looks like growth, and the policy swings its guests between the
// floor and the maximum (classic case 1 at 2 s: 407 commands instead of 14).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "memcoord/config.h"
#include "memcoord/scenario.h"
#include "memcoord/scenario_loader.h"
#include "memcoord/simulate.h"
#include "scenario_set.h"

namespace memcoord {
namespace {

class AutodeflateTest : public ::testing::TestWithParam<std::string> {};

Scores AdaptiveScores(const Scenario& s) {
  Result<RunResult> r = RunScenario(s, "adaptive", Config{}, RunOptions{});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r->scores : Scores{};
}

bool Near(double a, double b) {
  return std::abs(a - b) <= std::max(1.0, 0.05 * std::abs(b));
}

TEST_P(AutodeflateTest, AdaptiveSeesTheSameDemandWithAutodeflate) {
  Result<Scenario> loaded = LoadScenarioFile(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  Scenario plain = *loaded;
  plain.interval_s = 2;  // the daemon's default
  Scenario deflating = plain;
  for (ScenarioGuest& g : plain.guests) g.autodeflate = false;
  for (ScenarioGuest& g : deflating.guests) g.autodeflate = true;
  const Scores a = AdaptiveScores(plain);
  const Scores b = AdaptiveScores(deflating);
  EXPECT_EQ(b.oom_kills, a.oom_kills);
  EXPECT_TRUE(Near(b.pressure_s, a.pressure_s))
      << b.pressure_s << " vs " << a.pressure_s;
  EXPECT_TRUE(Near(b.waste_mib, a.waste_mib))
      << b.waste_mib << " vs " << a.waste_mib;
  EXPECT_TRUE(Near(static_cast<double>(b.actions),
                   static_cast<double>(a.actions)))
      << b.actions << " vs " << a.actions;
  EXPECT_EQ(b.host_low_s, a.host_low_s);
}

INSTANTIATE_TEST_SUITE_P(
    PublicScenarios, AutodeflateTest,
    ::testing::ValuesIn(testing::PublicScenarioFiles()),
    [](const ::testing::TestParamInfo<std::string>& info) {
      return testing::FileAndIntervalName(
          ::testing::TestParamInfo<testing::FileAndInterval>(
              {info.param, 2.0}, info.index));
    });

}  // namespace
}  // namespace memcoord
