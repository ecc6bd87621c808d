#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "memcoord/scenario.h"

namespace memcoord {
namespace {

Scenario Valid() {
  Scenario s;
  s.name = "valid";
  s.file = "tests/x.yaml";
  s.duration_s = 100;
  ScenarioGuest a;
  a.name = "vm1";
  WorkloadOp alloc;
  alloc.at_s = 10;
  alloc.kind = WorkloadOp::Kind::kAlloc;
  alloc.mib = 500;
  alloc.rate_mib_s = 50;
  WorkloadOp done;
  done.at_s = 50;
  done.kind = WorkloadOp::Kind::kFreeAll;
  a.workload = {alloc, done};
  ScenarioGuest b;
  b.name = "vm2";
  b.at_s = 20;
  b.min_mib = 256;
  b.shares = 500;
  s.guests = {a, b};
  return s;
}

TEST(ScenarioTest, DefaultsAndAFullScenarioAreValid) {
  Scenario empty;
  EXPECT_TRUE(ValidateScenario(empty).ok());
  Status st = ValidateScenario(Valid());
  EXPECT_TRUE(st.ok()) << st.ToString();
}

struct BadCase {
  std::string what;
  std::function<void(Scenario&)> mutate;
  std::string message;
};

TEST(ScenarioTest, ValidateNamesFileGuestAndKey) {
  const std::vector<BadCase> cases = {
      {"duration", [](Scenario& s) { s.duration_s = 0; },
       "tests/x.yaml: duration_s 0 must be > 0"},
      {"interval", [](Scenario& s) { s.interval_s = -1; },
       "tests/x.yaml: interval_s -1 must be > 0"},
      {"host total", [](Scenario& s) { s.host_total_mib = 0; },
       "host.total_mib 0 must be > 0"},
      {"host used", [](Scenario& s) { s.host_used_mib = 0; },
       "host.host_used_mib 0 must be > 0"},
      {"host used above total",
       [](Scenario& s) { s.host_used_mib = s.host_total_mib; },
       "host.host_used_mib 6144 must be below host.total_mib 6144"},
      {"budget", [](Scenario& s) { s.guest_budget_mib = 0; },
       "guest_budget_mib 0 must be > 0"},
      {"empty name", [](Scenario& s) { s.guests[1].name = ""; },
       "tests/x.yaml: guests[1]: name is empty"},
      {"duplicate name", [](Scenario& s) { s.guests[1].name = "vm1"; },
       "guests[1] (vm1): name 'vm1' is used by an earlier guest"},
      {"max", [](Scenario& s) { s.guests[0].max_mib = 0; },
       "guests[0] (vm1): max_mib 0 must be > 0"},
      {"start zero", [](Scenario& s) { s.guests[0].start_mib = 0; },
       "guests[0] (vm1): start_mib 0 must be > 0"},
      {"start above max",
       [](Scenario& s) {
         s.guests[1].start_mib = 4096;
         s.guests[1].max_mib = 2048;
       },
       "tests/x.yaml: guests[1] (vm2): start_mib 4096 is above max_mib 2048"},
      {"base negative", [](Scenario& s) { s.guests[0].base_used_mib = -1; },
       "guests[0] (vm1): base_used_mib -1 is negative"},
      {"base above start", [](Scenario& s) { s.guests[0].base_used_mib = 512; },
       "guests[0] (vm1): base_used_mib 512 must be below start_mib 512"},
      {"rate", [](Scenario& s) { s.guests[0].balloon_rate_mib_s = 0; },
       "guests[0] (vm1): balloon_rate_mib_s 0 must be > 0"},
      {"swap", [](Scenario& s) { s.guests[0].swap_mib = -5; },
       "guests[0] (vm1): swap_mib -5 is negative"},
      {"min above max", [](Scenario& s) { s.guests[1].min_mib = 4096; },
       "guests[1] (vm2): min_mib 4096 is above max_mib 2048"},
      {"guest at_s", [](Scenario& s) { s.guests[1].at_s = 101; },
       "guests[1] (vm2): at_s 101 is outside [0, duration_s 100]"},
      {"unsorted ops", [](Scenario& s) { s.guests[0].workload[1].at_s = 5; },
       "guests[0] (vm1): workload[1] (free_all): at_s 5 is before "
       "workload[0] at_s 10"},
      {"op after end", [](Scenario& s) { s.guests[0].workload[1].at_s = 150; },
       "workload[1] (free_all): at_s 150 is after duration_s 100"},
      {"op negative mib", [](Scenario& s) { s.guests[0].workload[0].mib = -1; },
       "guests[0] (vm1): workload[0] (alloc): mib -1 is negative"},
      {"op negative rate",
       [](Scenario& s) { s.guests[0].workload[0].rate_mib_s = -2.5; },
       "workload[0] (alloc): rate_mib_s -2.5 is negative"},
  };
  for (const BadCase& c : cases) {
    Scenario s = Valid();
    c.mutate(s);
    Status st = ValidateScenario(s);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << c.what;
    EXPECT_NE(st.message().find(c.message), std::string::npos)
        << c.what << ": got '" << st.message() << "'";
  }
}

TEST(ScenarioTest, MessagesFallBackToTheScenarioName) {
  Scenario s = Valid();
  s.file.clear();
  s.guests[0].max_mib = 0;
  EXPECT_EQ(ValidateScenario(s).message().rfind("valid: guests[0] (vm1)", 0),
            0u);
}

TEST(ScenarioTest, OpNamesMatchTheFileFormat) {
  using K = WorkloadOp::Kind;
  EXPECT_EQ(OpName(K::kAlloc), "alloc");
  EXPECT_EQ(OpName(K::kFree), "free");
  EXPECT_EQ(OpName(K::kFreeAll), "free_all");
  EXPECT_EQ(OpName(K::kCache), "cache");
  EXPECT_EQ(OpName(K::kDropCache), "drop_cache");
  EXPECT_EQ(OpName(K::kStats), "stats");
  EXPECT_EQ(OpName(K::kDestroy), "destroy");
  EXPECT_EQ(OpName(K::kStart), "start");
}

}  // namespace
}  // namespace memcoord
