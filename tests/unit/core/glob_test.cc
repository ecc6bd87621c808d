#include <gtest/gtest.h>

#include "memcoord/config.h"

namespace memcoord {
namespace {

TEST(GlobTest, MatchesStarQuestionAndClasses) {
  EXPECT_TRUE(GlobMatch("*", "vm1"));
  EXPECT_TRUE(GlobMatch("db-*", "db-main"));
  EXPECT_FALSE(GlobMatch("db-*", "web-1"));
  EXPECT_TRUE(GlobMatch("vm?", "vm3"));
  EXPECT_FALSE(GlobMatch("vm?", "vm10"));
  EXPECT_TRUE(GlobMatch("vm[0-3]", "vm2"));
  EXPECT_FALSE(GlobMatch("vm[0-3]", "vm7"));
  EXPECT_TRUE(GlobMatch("vm[!0-3]", "vm7"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(GlobMatch("[", "["));
  EXPECT_FALSE(GlobMatch("", "x"));
  EXPECT_TRUE(GlobMatch("", ""));
  // Quoting, and '/' as an ordinary character (fnmatch(3) without flags).
  EXPECT_TRUE(GlobMatch("vm\\*", "vm*"));
  EXPECT_FALSE(GlobMatch("vm\\*", "vm1"));
  EXPECT_TRUE(GlobMatch("tenant*", "tenant/a"));
  EXPECT_TRUE(GlobMatch("vm[^0-3]", "vm7"));
}

TEST(ConfigTest, IncludeExcludeAndOverridesInFileOrder) {
  Config c;
  c.domains.include = {"vm*", "db-*"};
  c.domains.exclude = {"vm-test*"};
  EXPECT_TRUE(c.Includes("vm1"));
  EXPECT_TRUE(c.Includes("db-x"));
  EXPECT_FALSE(c.Includes("vm-test-1"));
  EXPECT_FALSE(c.Includes("other"));

  c.domains.overrides.push_back({"db-*", {2048, 8192, 2000, std::nullopt}});
  c.domains.overrides.push_back({"db-b*", {std::nullopt, std::nullopt, 500, false}});
  DomainSettings meta;
  meta.min_mib = 512;
  meta.shares = 10;
  DomainLimits a = c.LimitsFor("db-a", meta);
  EXPECT_EQ(a.floor_kib, MibToKib(2048));  // the file wins over metadata
  EXPECT_EQ(a.max_kib, MibToKib(8192));
  EXPECT_EQ(a.shares, 2000);
  EXPECT_TRUE(a.managed);
  DomainLimits b = c.LimitsFor("db-b1", meta);
  EXPECT_EQ(b.shares, 500);  // later overrides win
  EXPECT_FALSE(b.managed);
  DomainLimits m = c.LimitsFor("vm1", meta);
  EXPECT_EQ(m.floor_kib, MibToKib(512));  // metadata where the file is silent
  EXPECT_EQ(m.shares, 10);
  DomainLimits d = c.LimitsFor("vm1", {});
  EXPECT_EQ(d.floor_kib, MibToKib(256));
  EXPECT_EQ(d.shares, 1000);
}

TEST(ConfigTest, ValidateChecksRelations) {
  Config c;
  EXPECT_TRUE(c.Validate().ok());
  c.thresholds.starvation_mib = 400;
  EXPECT_NE(c.Validate().message().find("starvation_mib"), std::string::npos);
  c = Config();
  c.domains.overrides.push_back({"x", {900, 800, std::nullopt, std::nullopt}});
  EXPECT_NE(c.Validate().message().find("min_mib must be <= max_mib"),
            std::string::npos);
  c = Config();
  c.guardrails.max_release_fraction = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = Config();
  c.policy = "bogus";
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace memcoord

namespace memcoord {
namespace {

TEST(ConfigTest, StaleAfterIsThreeIntervalsButNeverBelowThreeSeconds) {
  Config c;
  EXPECT_EQ(c.stale_after_s(), 6);  // interval 2
  c.interval_s = 0.25;
  EXPECT_EQ(c.stale_after_s(), 3);  // stats come once a second
  c.guardrails.stale_after_s = 1;
  EXPECT_EQ(c.stale_after_s(), 1);  // what the operator says
}

}  // namespace
}  // namespace memcoord
