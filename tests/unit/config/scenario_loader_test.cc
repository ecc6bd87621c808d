#include "memcoord/scenario_loader.h"

#include <gtest/gtest.h>

#include <string>

#include "memcoord/scenario.h"

namespace memcoord {
namespace {

constexpr char kFile[] = "tests/scenarios/x.yaml";

Scenario Parse(std::string_view yaml) {
  Result<Scenario> r = ParseScenario(yaml, kFile);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Scenario{};
}

// The README "The simulator and the scores" example, with every optional key
// added.
constexpr char kEveryKey[] = R"(name: every-key
duration_s: 300
interval_s: 2
host: {total_mib: 8192, host_used_mib: 600}
guest_budget_mib: 6000
defaults:
  max_mib: 3072
  start_mib: 1024
  base_used_mib: 100
  balloon_rate_mib_s: 150
  swap_mib: 256
  stats: false
  shares: 500
  autodeflate: false
guests:
  - name: vm1
    stats: true
    min_mib: 512
    workload:
      - {at_s: 10, op: alloc, mib: 2048, rate_mib_s: 40}
      - {at_s: 20, op: free, mib: 512}
      - {at_s: 30, op: cache, mib: 256, rate_mib_s: 100}
      - {at_s: 30, op: drop_cache}
      - {at_s: 40, op: stats, on: false}
      - {at_s: 50, op: free_all}
      - {at_s: 60, op: destroy}
      - {at_s: 70, op: start}
  - name: vm2
    at_s: 100
    max_mib: 2048
    start_mib: 512
    base_used_mib: 80
    balloon_rate_mib_s: 200
    swap_mib: 0
    shares: 2000
    autodeflate: true
)";

TEST(ScenarioLoaderTest, ReadsEveryKey) {
  Scenario s = Parse(kEveryKey);
  EXPECT_EQ(s.name, "every-key");
  EXPECT_EQ(s.file, kFile);
  EXPECT_EQ(s.duration_s, 300);
  EXPECT_EQ(s.interval_s, 2);
  EXPECT_EQ(s.host_total_mib, 8192);
  EXPECT_EQ(s.host_used_mib, 600);
  EXPECT_EQ(s.guest_budget_mib, 6000);
  ASSERT_EQ(s.guests.size(), 2u);

  const ScenarioGuest& vm1 = s.guests[0];
  EXPECT_EQ(vm1.name, "vm1");
  EXPECT_EQ(vm1.max_mib, 3072);  // from defaults
  EXPECT_EQ(vm1.start_mib, 1024);
  EXPECT_EQ(vm1.base_used_mib, 100);
  EXPECT_EQ(vm1.balloon_rate_mib_s, 150);
  EXPECT_EQ(vm1.swap_mib, 256);
  EXPECT_TRUE(vm1.stats);  // the guest's own value beats defaults
  EXPECT_EQ(vm1.min_mib, 512);
  EXPECT_EQ(vm1.shares, 500);
  EXPECT_FALSE(vm1.autodeflate);  // from defaults
  EXPECT_FALSE(vm1.at_s.has_value());
  ASSERT_EQ(vm1.workload.size(), 8u);
  using K = WorkloadOp::Kind;
  EXPECT_EQ(vm1.workload[0].kind, K::kAlloc);
  EXPECT_EQ(vm1.workload[0].at_s, 10);
  EXPECT_EQ(vm1.workload[0].mib, 2048);
  EXPECT_EQ(vm1.workload[0].rate_mib_s, 40);
  EXPECT_EQ(vm1.workload[1].kind, K::kFree);
  EXPECT_EQ(vm1.workload[1].mib, 512);
  EXPECT_EQ(vm1.workload[1].rate_mib_s, 0);  // at once
  EXPECT_EQ(vm1.workload[2].kind, K::kCache);
  EXPECT_EQ(vm1.workload[2].rate_mib_s, 100);
  EXPECT_EQ(vm1.workload[3].kind, K::kDropCache);
  EXPECT_EQ(vm1.workload[4].kind, K::kStats);
  EXPECT_FALSE(vm1.workload[4].on);
  EXPECT_EQ(vm1.workload[5].kind, K::kFreeAll);
  EXPECT_EQ(vm1.workload[6].kind, K::kDestroy);
  EXPECT_EQ(vm1.workload[7].kind, K::kStart);
  EXPECT_EQ(vm1.workload[7].at_s, 70);

  const ScenarioGuest& vm2 = s.guests[1];
  EXPECT_EQ(vm2.at_s, 100);
  EXPECT_EQ(vm2.max_mib, 2048);
  EXPECT_EQ(vm2.start_mib, 512);
  EXPECT_EQ(vm2.base_used_mib, 80);
  EXPECT_EQ(vm2.balloon_rate_mib_s, 200);
  EXPECT_EQ(vm2.swap_mib, 0);
  EXPECT_FALSE(vm2.stats);  // from defaults
  EXPECT_EQ(vm2.shares, 2000);
  EXPECT_TRUE(vm2.autodeflate);  // the guest's own value beats defaults
  EXPECT_FALSE(vm2.min_mib.has_value());
  EXPECT_TRUE(vm2.workload.empty());
}

TEST(ScenarioLoaderTest, MissingKeysKeepTheModelDefaults) {
  Scenario s = Parse("guests:\n  - {name: only}\n");
  EXPECT_EQ(s.name, "x");  // the file's base name
  ScenarioGuest expected;
  Scenario defaults;
  EXPECT_EQ(s.duration_s, defaults.duration_s);
  EXPECT_EQ(s.interval_s, defaults.interval_s);
  EXPECT_EQ(s.host_total_mib, defaults.host_total_mib);
  EXPECT_EQ(s.host_used_mib, defaults.host_used_mib);
  EXPECT_FALSE(s.guest_budget_mib.has_value());
  ASSERT_EQ(s.guests.size(), 1u);
  EXPECT_EQ(s.guests[0].max_mib, expected.max_mib);
  EXPECT_EQ(s.guests[0].start_mib, expected.start_mib);
  EXPECT_EQ(s.guests[0].base_used_mib, expected.base_used_mib);
  EXPECT_EQ(s.guests[0].balloon_rate_mib_s, expected.balloon_rate_mib_s);
  EXPECT_EQ(s.guests[0].swap_mib, expected.swap_mib);
  EXPECT_EQ(s.guests[0].stats, expected.stats);
}

TEST(ScenarioLoaderTest, WorkloadInDefaultsIsGivenToEveryGuest) {
  Scenario s = Parse(
      "defaults:\n"
      "  workload: [{at_s: 5, op: alloc, mib: 100}]\n"
      "guests:\n"
      "  - {name: a}\n"
      "  - {name: b, workload: []}\n");
  ASSERT_EQ(s.guests.size(), 2u);
  ASSERT_EQ(s.guests[0].workload.size(), 1u);
  EXPECT_EQ(s.guests[0].workload[0].mib, 100);
  EXPECT_TRUE(s.guests[1].workload.empty());
}

TEST(ScenarioLoaderTest, LoadScenarioFileNamesAMissingFile) {
  Result<Scenario> r = LoadScenarioFile("/nonexistent/s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "/nonexistent/s.yaml: cannot open: No such file or directory");
}

class ClassicScenarioTest : public testing::TestWithParam<const char*> {};

TEST_P(ClassicScenarioTest, LoadsAsTheClassicAssignment) {
  std::string path =
      std::string(MEMCOORD_SOURCE_DIR "/tests/scenarios/") + GetParam();
  Result<Scenario> r = LoadScenarioFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Scenario& s = *r;
  EXPECT_EQ(s.file, path);
  EXPECT_EQ(s.name + ".yaml", GetParam());
  EXPECT_EQ(s.interval_s, 1);
  EXPECT_GE(s.duration_s, 240);
  EXPECT_LE(s.duration_s, 300);
  EXPECT_GE(s.host_total_mib, 6144);
  ASSERT_EQ(s.guests.size(), 4u);
  for (size_t i = 0; i < s.guests.size(); ++i) {
    const ScenarioGuest& g = s.guests[i];
    SCOPED_TRACE(g.name);
    EXPECT_EQ(g.name, "vm" + std::to_string(i + 1));
    EXPECT_EQ(g.max_mib, 2048);
    EXPECT_EQ(g.start_mib, 512);
    EXPECT_TRUE(g.stats);
    for (const WorkloadOp& op : g.workload) {
      if (op.kind == WorkloadOp::Kind::kAlloc) {
        EXPECT_GE(op.rate_mib_s, 20);
        EXPECT_LE(op.rate_mib_s, 40);
        // Each allocation fits below the guest's maximum.
        EXPECT_LE(g.base_used_mib + op.mib, g.max_mib);
      }
    }
  }
  EXPECT_TRUE(ValidateScenario(s).ok());
}

INSTANTIATE_TEST_SUITE_P(Files, ClassicScenarioTest,
                         testing::Values("classic-1-one-busy.yaml",
                                         "classic-2-all-busy.yaml",
                                         "classic-3-two-stop.yaml"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return "Classic" + std::to_string(info.index + 1);
                         });

int Allocators(const Scenario& s) {
  int n = 0;
  for (const ScenarioGuest& g : s.guests) {
    for (const WorkloadOp& op : g.workload) {
      if (op.kind == WorkloadOp::Kind::kAlloc) {
        ++n;
        break;
      }
    }
  }
  return n;
}

TEST(ClassicScenarioTest, EachFileHasItsWorkloadShape) {
  std::string dir = MEMCOORD_SOURCE_DIR "/tests/scenarios/";
  Result<Scenario> one = LoadScenarioFile(dir + "classic-1-one-busy.yaml");
  Result<Scenario> all = LoadScenarioFile(dir + "classic-2-all-busy.yaml");
  Result<Scenario> stop = LoadScenarioFile(dir + "classic-3-two-stop.yaml");
  ASSERT_TRUE(one.ok() && all.ok() && stop.ok());
  EXPECT_EQ(Allocators(*one), 1);
  EXPECT_EQ(Allocators(*all), 4);
  EXPECT_EQ(Allocators(*stop), 4);
  // Case 3: two guests stop at 512 MiB and free it; two go further.
  int stop_at_512 = 0;
  for (const ScenarioGuest& g : stop->guests) {
    if (g.workload.size() == 2 && g.workload[0].mib == 512 &&
        g.workload[1].kind == WorkloadOp::Kind::kFree &&
        g.workload[1].mib == 512) {
      ++stop_at_512;
    }
  }
  EXPECT_EQ(stop_at_512, 2);
}

TEST(ScenarioLoaderTest, TruncatedFileNeverThrows) {
  std::string text = kEveryKey;
  for (size_t n = 0; n <= text.size(); ++n) {
    Result<Scenario> r = ParseScenario(text.substr(0, n), kFile);
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind(kFile, 0), 0u)
          << "prefix " << n << ": " << r.status().message();
    }
  }
}

struct BadScenario {
  const char* name;
  const char* yaml;
  const char* error;
};

class ScenarioLoaderBadFileTest : public testing::TestWithParam<BadScenario> {};

TEST_P(ScenarioLoaderBadFileTest, RejectsWithExactError) {
  Result<Scenario> r = ParseScenario(GetParam().yaml, kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().error);
}

const BadScenario kBadScenarios[] = {
    {"SyntaxError", "guests:\n  - {name: vm1\n",
     "tests/scenarios/x.yaml:3:1: YAML syntax error: end of map flow not "
     "found"},
    {"EmptyFile", "",
     "tests/scenarios/x.yaml:1:1: guests: is required: the list of guests"},
    {"UnknownTopKey", "guest:\n  - {name: vm1}\n",
     "tests/scenarios/x.yaml:1:1: guest: unknown key; did you mean 'guests'?\n"
     "tests/scenarios/x.yaml:1:1: guests: is required: the list of guests"},
    {"UnknownGuestKey", "guests:\n  - name: vm1\n    max: 2048\n",
     "tests/scenarios/x.yaml:3:5: guests[0].max: unknown key; did you mean "
     "'max_mib'?"},
    {"NameInDefaults", "defaults: {name: vm}\nguests: [{name: vm1}]\n",
     "tests/scenarios/x.yaml:1:12: defaults.name: unknown key; expected one "
     "of: at_s, max_mib, start_mib, base_used_mib, balloon_rate_mib_s, "
     "swap_mib, stats, min_mib, shares, autodeflate, workload"},
    {"GuestsEmpty", "guests: []\n",
     "tests/scenarios/x.yaml:1:9: guests: must be a list of at least one "
     "guest ({name: vm1, ...}), got a list"},
    {"GuestWithoutName", "guests:\n  - {max_mib: 1024}\n",
     "tests/scenarios/x.yaml:2:5: guests[0].name: is required: the guest's "
     "name"},
    {"DuplicateName", "guests:\n  - name: vm1\n  - name: vm2\n  - name: vm1\n",
     "tests/scenarios/x.yaml:4:11: guests[2].name: 'vm1' is already the name "
     "of guests[0]"},
    {"WrongType", "guests:\n  - {name: vm1, max_mib: big}\n",
     "tests/scenarios/x.yaml:2:26: guests[0].max_mib: must be a number of MiB "
     "> 0, got 'big'"},
    {"NegativeSwap", "defaults: {swap_mib: -1}\nguests: [{name: vm1}]\n",
     "tests/scenarios/x.yaml:1:22: defaults.swap_mib: must be a number of MiB "
     ">= 0, got '-1'"},
    {"StatsNotBool", "guests:\n  - {name: vm1, stats: off}\n",
     "tests/scenarios/x.yaml:2:24: guests[0].stats: must be true or false, "
     "got 'off'"},
    {"AutodeflateNotBool", "guests:\n  - {name: vm1, autodeflate: on}\n",
     "tests/scenarios/x.yaml:2:30: guests[0].autodeflate: must be true or "
     "false, got 'on'"},
    {"DurationZero", "duration_s: 0\nguests: [{name: vm1}]\n",
     "tests/scenarios/x.yaml:1:13: duration_s: must be a number of seconds in "
     "(0, 2678400], got '0'"},
    {"IntervalAboveDuration",
     "duration_s: 10\ninterval_s: 20\nguests: [{name: vm1}]\n",
     "tests/scenarios/x.yaml:2:13: interval_s: 20 is above duration_s 10"},
    {"HostUsedNotBelowTotal",
     "host: {total_mib: 1024, host_used_mib: 1024}\nguests: [{name: vm1}]\n",
     "tests/scenarios/x.yaml:1:40: host.host_used_mib: 1024 is not below "
     "total_mib 1024"},
    {"GuestsDoNotFitTheHost",
     "host:\n  total_mib: 2000\n  host_used_mib: 512\n"
     "guests: [{name: a}, {name: b}, {name: c}, {name: d, at_s: 10}]\n",
     "tests/scenarios/x.yaml:2:14: host.total_mib: 2000 is below "
     "host_used_mib plus the start_mib of the guests running at 0 s (2048)"},
    {"StartAboveMax",
     "guests:\n  - name: vm1\n  - name: vm2\n    max_mib: 2048\n"
     "    start_mib: 4096\n",
     "tests/scenarios/x.yaml:5:16: guests[1].start_mib: 4096 is above max_mib "
     "2048"},
    {"StartFromDefaultsAboveGuestMax",
     "defaults:\n  start_mib: 1024\nguests:\n  - {name: vm1, max_mib: 768}\n",
     "tests/scenarios/x.yaml:4:26: guests[0].start_mib: 1024 is above max_mib "
     "768"},
    {"BaseUsedNotBelowStart",
     "guests:\n  - {name: vm1, start_mib: 512, base_used_mib: 600}\n",
     "tests/scenarios/x.yaml:2:48: guests[0].base_used_mib: 600 is not below "
     "start_mib 512"},
    {"MinAboveMax", "guests:\n  - {name: vm1, min_mib: 4096}\n",
     "tests/scenarios/x.yaml:2:26: guests[0].min_mib: 4096 is above max_mib "
     "2048"},
    {"SharesFractional", "guests:\n  - {name: vm1, shares: 1.5}\n",
     "tests/scenarios/x.yaml:2:25: guests[0].shares: must be a whole number in "
     "[0, 50000], got '1.5'"},
    {"GuestStartsAfterTheEnd",
     "duration_s: 100\nguests:\n  - {name: vm1, at_s: 200}\n",
     "tests/scenarios/x.yaml:3:23: guests[0].at_s: 200 is after duration_s "
     "100"},
    {"UnknownOp",
     "guests:\n  - name: vm1\n    workload:\n"
     "      - {at_s: 10, op: allocate, mib: 100}\n",
     "tests/scenarios/x.yaml:4:24: guests[0].workload[0].op: must be one of "
     "alloc, free, free_all, cache, drop_cache, stats, destroy, start, got "
     "'allocate'; did you mean 'alloc'?"},
    {"OpWithoutAt",
     "guests:\n  - name: vm1\n    workload:\n      - {op: free_all}\n",
     "tests/scenarios/x.yaml:4:9: guests[0].workload[0].at_s: is required: "
     "when the op happens"},
    {"AllocWithoutMib",
     "guests:\n  - name: vm1\n    workload:\n      - {at_s: 1, op: alloc}\n",
     "tests/scenarios/x.yaml:4:9: guests[0].workload[0].mib: is required for "
     "op 'alloc'"},
    {"KeyNotForOp",
     "guests:\n  - name: vm1\n    workload:\n"
     "      - {at_s: 1, op: free_all, mib: 100}\n",
     "tests/scenarios/x.yaml:4:33: guests[0].workload[0].mib: does not apply "
     "to op 'free_all'"},
    {"StatsWithoutOn",
     "guests:\n  - name: vm1\n    workload:\n      - {at_s: 1, op: stats}\n",
     "tests/scenarios/x.yaml:4:9: guests[0].workload[0].on: is required for "
     "op 'stats'"},
    {"NegativeRate",
     "guests:\n  - name: vm1\n    workload:\n"
     "      - {at_s: 1, op: alloc, mib: 10, rate_mib_s: -4}\n",
     "tests/scenarios/x.yaml:4:51: guests[0].workload[0].rate_mib_s: must be "
     "a number of MiB/s >= 0, got '-4'"},
    {"OpsOutOfOrder",
     "guests:\n  - name: vm1\n    workload:\n"
     "      - {at_s: 20, op: alloc, mib: 100}\n"
     "      - {at_s: 10, op: free_all}\n",
     "tests/scenarios/x.yaml:5:16: guests[0].workload[1].at_s: 10 is before "
     "the previous op's at_s 20; ops must be in time order"},
    {"OpBeforeGuestStarts",
     "guests:\n  - name: vm1\n    at_s: 30\n    workload:\n"
     "      - {at_s: 10, op: alloc, mib: 100}\n",
     "tests/scenarios/x.yaml:5:16: guests[0].workload[0].at_s: 10 is before "
     "the guest starts (at_s 30)"},
    {"OpAfterTheEnd",
     "duration_s: 60\nguests:\n  - name: vm1\n    workload:\n"
     "      - {at_s: 90, op: free_all}\n",
     "tests/scenarios/x.yaml:5:16: guests[0].workload[0].at_s: 90 is after "
     "duration_s 60"},
    {"WorkloadNotAList",
     "guests:\n  - name: vm1\n    workload: {at_s: 1, op: free_all}\n",
     "tests/scenarios/x.yaml:3:15: guests[0].workload: must be a list of ops "
     "({at_s, op, ...}), got a mapping"},
};

INSTANTIATE_TEST_SUITE_P(Table, ScenarioLoaderBadFileTest,
                         testing::ValuesIn(kBadScenarios),
                         [](const testing::TestParamInfo<BadScenario>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace memcoord
