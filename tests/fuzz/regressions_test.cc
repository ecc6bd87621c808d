// Inputs the fuzzers found, as unit tests with the expected answer. The same
// inputs are in corpus/ (regress-*), where the replay tests run them too.
#include <gtest/gtest.h>

#include <string>

#include "memcoord/config_loader.h"
#include "memcoord/scenario_loader.h"

namespace memcoord {
namespace {

// yaml-cpp 0.7's LoadAll never returned on a ',' outside a flow collection
// (it collected empty documents until memory ran out): a config file with a
// stray comma hung the daemon at start or on SIGHUP.
TEST(FuzzRegressionTest, LoneCommaIsASyntaxErrorNotAHang) {
  Result<Config> c = ParseConfig(",", "mc.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "mc.yaml:1:1: YAML syntax error: unexpected ','");
  Result<Scenario> s = ParseScenario("  ,\n", "s.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "s.yaml:1:3: YAML syntax error: unexpected ','");
}

TEST(FuzzRegressionTest, CommaInALaterDocumentIsFoundToo) {
  Result<Config> c = ParseConfig("interval_s: 2\n---\n ,\n", "mc.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "mc.yaml:3:2: YAML syntax error: unexpected ','");
}

TEST(FuzzRegressionTest, CommasInsideFlowCollectionsStillParse) {
  Result<Config> c = ParseConfig(
      "domains: {include: [\"a*\", \"b*\"], exclude: [\"c\"]}\n"
      "thresholds: {starvation_mib: 100, waste_mib: 400}\n",
      "mc.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->domains.include.size(), 2u);
  EXPECT_EQ(c->thresholds.waste_mib, 400);
}

}  // namespace
}  // namespace memcoord
