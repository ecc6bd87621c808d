// The tick (README "How it works") with a scripted hypervisor and a manual
// clock.
#include "memcoord/controller.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace memcoord {
namespace {

using testing::FakeHypervisor;
using testing::Guest;
using testing::GuestWithoutStats;
using testing::Snap;

class RecordingSink : public MetricsSink {
 public:
  void Record(const TickReport& report, const HypervisorHealth&) override {
    reports.push_back(report);
  }
  std::vector<TickReport> reports;
};

class ControllerTest : public ::testing::Test {
 protected:
  ControllerTest() : controller_(&hv_, &clock_, &log_, &sink_) {
    config_.policy = "seed";
    EXPECT_TRUE(controller_.Configure(config_).ok());
  }
  FakeHypervisor hv_;
  ManualClock clock_{100};
  MemoryLogger log_;
  RecordingSink sink_;
  Config config_;
  Controller controller_;
};

TEST_F(ControllerTest, SetsGuardedTargetsAndRecordsTheTick) {
  hv_.snapshot =
      Snap({Guest("a", 1024, 100, 2048, 100), Guest("b", 2048, 900, 2048, 100)},
           4096, 16384, 100);
  TickReport r = controller_.Tick();
  ASSERT_TRUE(r.sample_status.ok());
  ASSERT_EQ(hv_.sets.size(), 2u);
  EXPECT_EQ(hv_.sets[0],
            std::make_pair(std::string("a"), MibToKib(1024 + 450)));
  EXPECT_EQ(hv_.sets[1],
            std::make_pair(std::string("b"), MibToKib(2048 - 450)));
  EXPECT_EQ(r.classes.at("a"), GuestClass::kStarved);
  EXPECT_EQ(r.classes.at("b"), GuestClass::kWasteful);
  ASSERT_EQ(sink_.reports.size(), 1u);
  EXPECT_EQ(sink_.reports[0].applied.actions.size(), 2u);
  EXPECT_EQ(log_.Count("domain a: 1024 MiB -> 1474 MiB (starved)"), 1);
}

TEST_F(ControllerTest, ClassesAreTheActivePolicysJudgement) {
  // 20 MiB unused but 800 MiB usable (page cache): seed judges MemFree and
  // calls it starved; adaptive judges usable memory and leaves it ok. A
  // 4096 MiB guest with 200 MiB usable is under adaptive's line (6 % of
  // actual, 245 MiB) but above seed's 150 MiB.
  GuestSample cached = Guest("cached", 1024, 20, 2048, 100);
  cached.usable_kib = MibToKib(800);
  GuestSample big = Guest("big", 4096, 200, 8192, 100);
  hv_.snapshot = Snap({big, cached}, 8192, 32768, 100);
  config_.dry_run = true;
  ASSERT_TRUE(controller_.Configure(config_).ok());
  TickReport r = controller_.Tick();
  EXPECT_EQ(r.classes.at("cached"), GuestClass::kStarved);
  EXPECT_EQ(r.classes.at("big"), GuestClass::kOk);

  config_.policy = "adaptive";
  ASSERT_TRUE(controller_.Configure(config_).ok());
  r = controller_.Tick();
  EXPECT_EQ(r.classes.at("cached"), GuestClass::kOk);
  EXPECT_EQ(r.classes.at("big"), GuestClass::kStarved);
}

TEST_F(ControllerTest, DryRunPlansButSendsNothing) {
  config_.dry_run = true;
  ASSERT_TRUE(controller_.Configure(config_).ok());
  hv_.snapshot = Snap({Guest("a", 1024, 100, 2048, 100)}, 4096, 16384, 100);
  TickReport r = controller_.Tick();
  EXPECT_TRUE(hv_.sets.empty());
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_FALSE(r.results[0].sent);
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(log_.Count("[dry-run, not sent]"), 1);

  // Nothing moved, so the same plan comes back: planned again, not logged
  // again. A different plan is logged.
  clock_.Advance(2);
  hv_.snapshot = Snap({Guest("a", 1024, 100, 2048, 102)}, 4096, 16384, 102);
  r = controller_.Tick();
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_FALSE(r.results[0].sent);
  EXPECT_EQ(log_.Count("[dry-run, not sent]"), 1);
  clock_.Advance(2);
  // Its size changed under us (another tool): a new plan, logged.
  hv_.snapshot = Snap({Guest("a", 1124, 100, 2048, 104)}, 4096, 16384, 104);
  r = controller_.Tick();
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(log_.Count("[dry-run, not sent]"), 2);
  EXPECT_TRUE(hv_.sets.empty());
}

TEST_F(ControllerTest, TheHypervisorMayChangeOnlyManagedGuestsOutsideDryRun) {
  // The command filter decides whether the hypervisor may turn on a guest's
  // statistics period: never in dry-run, never for an unmanaged guest.
  ASSERT_TRUE(hv_.command_filter);
  DomainSettings unmanaged;
  unmanaged.managed = false;
  EXPECT_TRUE(hv_.command_filter("a", DomainSettings{}));
  EXPECT_FALSE(hv_.command_filter("a", unmanaged));
  config_.domains.overrides.push_back({"db-*", unmanaged});
  ASSERT_TRUE(controller_.Configure(config_).ok());
  EXPECT_FALSE(hv_.command_filter("db-1", DomainSettings{}));
  EXPECT_TRUE(hv_.command_filter("web-1", DomainSettings{}));
  config_.dry_run = true;
  ASSERT_TRUE(controller_.Configure(config_).ok());
  EXPECT_FALSE(hv_.command_filter("web-1", DomainSettings{}));
}

TEST_F(ControllerTest, FailedSampleSetsNothingAndLogsOnce) {
  hv_.sample_status = Status::Unavailable("libvirtd is down");
  for (int i = 0; i < 5; ++i) {
    TickReport r = controller_.Tick();
    EXPECT_FALSE(r.sample_status.ok());
  }
  EXPECT_TRUE(hv_.sets.empty());
  EXPECT_EQ(log_.Count("sampling failed"), 1);
  EXPECT_EQ(sink_.reports.size(), 5u);
  hv_.sample_status = Status::Ok();
  hv_.snapshot = Snap({}, 4096, 16384, 100);
  controller_.Tick();
  EXPECT_EQ(log_.Count("sampling recovered"), 1);
}

TEST_F(ControllerTest, OneFailedSetCostsOnlyThatGuest) {
  hv_.snapshot =
      Snap({Guest("a", 1024, 100, 2048, 100), Guest("b", 2048, 900, 2048, 100)},
           4096, 16384, 100);
  hv_.set_errors["a"] = Status::NotFound("domain a vanished");
  for (int i = 0; i < 3; ++i) {
    TickReport r = controller_.Tick();
    ASSERT_EQ(r.results.size(), 2u);
    EXPECT_FALSE(r.results[0].status.ok());
    EXPECT_TRUE(r.results[1].status.ok());
  }
  EXPECT_EQ(hv_.sets.size(), 3u);  // b every tick
  EXPECT_EQ(log_.Count("failed: domain a vanished"), 1);
  hv_.set_errors.clear();
  controller_.Tick();
  EXPECT_EQ(log_.Count("balloon commands work again"), 1);
}

TEST_F(ControllerTest, LogsStatsLostAndBackOncePerChange) {
  hv_.snapshot = Snap({Guest("a", 1024, 200, 2048, 100)}, 4096, 16384, 100);
  controller_.Tick();
  EXPECT_EQ(log_.Count("domain a appeared"), 1);
  hv_.snapshot = Snap({GuestWithoutStats("a", 1024)}, 4096, 16384, 100);
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("lost its balloon stats"), 1);
  hv_.snapshot = Snap({Guest("a", 1024, 200, 2048, 100)}, 4096, 16384, 100);
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("reports balloon stats"), 1);
  hv_.snapshot = Snap({}, 4096, 16384, 100);
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("domain a is gone"), 1);
}

TEST_F(ControllerTest, WarnsOncePerGuestWithoutAutodeflate) {
  hv_.snapshot = Snap({Guest("a", 1024, 200, 2048, 100),
                       Guest("b", 1024, 200, 2048, 100),
                       Guest("c", 1024, 200, 2048, 100)},
                      4096, 16384, 100);
  hv_.snapshot.guests[0].balloon.autodeflate = false;
  hv_.snapshot.guests[1].balloon.autodeflate = true;
  controller_.Tick();
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("balloon has no autodeflate"), 1);
  EXPECT_EQ(log_.Count("domain a balloon has no autodeflate"), 1);
  EXPECT_EQ(log_.Count("require_autodeflate"), 0);
  EXPECT_EQ(log_.Count("autodeflate is unknown"), 0);  // c: not required
  // Redefined with it, then without it again: each change is logged once.
  hv_.snapshot.guests[0].balloon.autodeflate = true;
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("domain a balloon autodeflate is on"), 1);
  hv_.snapshot.guests[0].balloon.autodeflate = false;
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("domain a balloon has no autodeflate"), 2);
  EXPECT_EQ(log_.Count("domain b balloon"), 0);
}

TEST_F(ControllerTest, RequireAutodeflateSaysOnceWhyAGuestIsNotShrunk) {
  config_.guardrails.require_autodeflate = true;
  ASSERT_TRUE(controller_.Configure(config_).ok());
  // Both wasteful: seed would reclaim from them.
  hv_.snapshot = Snap({Guest("off", 2048, 900, 2048, 100),
                       Guest("unknown", 2048, 900, 2048, 100)},
                      4096, 16384, 100);
  hv_.snapshot.guests[0].balloon.autodeflate = false;
  TickReport r = controller_.Tick();
  controller_.Tick();
  EXPECT_TRUE(hv_.sets.empty());
  EXPECT_EQ(r.clamps[Rule::kAutodeflate], 1);  // seed moves one guest a tick
  EXPECT_EQ(log_.Count("domain off balloon has no autodeflate: out of memory, "
                       "the guest cannot take memory back from its balloon; it "
                       "is never shrunk (guardrails.require_autodeflate)"),
            1);
  EXPECT_EQ(log_.Count("domain unknown balloon autodeflate is unknown; it is "
                       "never shrunk (guardrails.require_autodeflate)"),
            1);
  // Known on: it is shrunk again.
  hv_.snapshot.guests[0].balloon.autodeflate = true;
  hv_.snapshot.guests[1].balloon.autodeflate = true;
  controller_.Tick();
  EXPECT_FALSE(hv_.sets.empty());
}

TEST_F(ControllerTest, ExcludedGuestsAreInvisibleAndOverridesApply) {
  config_.domains.exclude = {"skip-*"};
  config_.domains.overrides.push_back(
      {"a", {1100, std::nullopt, std::nullopt, std::nullopt}});
  ASSERT_TRUE(controller_.Configure(config_).ok());
  hv_.snapshot = Snap(
      {Guest("skip-1", 1024, 10, 2048, 100), Guest("a", 1024, 100, 2048, 100)},
      4096, 16384, 100);
  TickReport r = controller_.Tick();
  ASSERT_EQ(r.snapshot.guests.size(), 1u);
  EXPECT_EQ(r.snapshot.guests[0].name, "a");
  EXPECT_EQ(r.snapshot.guests[0].limits.floor_kib, MibToKib(1100));
  ASSERT_EQ(hv_.sets.size(), 1u);
  EXPECT_EQ(hv_.sets[0].first, "a");
  // The hypervisor is told, so it spends no calls on excluded guests.
  ASSERT_TRUE(hv_.filter);
  EXPECT_FALSE(hv_.filter("skip-7"));
  EXPECT_TRUE(hv_.filter("a"));
}

TEST_F(ControllerTest, StaleStatsGetNoActionAndAreCounted) {
  hv_.snapshot =
      Snap({Guest("a", 1024, 100, 2048, /*time_s=*/50)}, 4096, 16384, 100);
  clock_.Set(100);
  controller_.Tick();  // first sight: "appeared"
  TickReport r = controller_.Tick();
  controller_.Tick();
  EXPECT_TRUE(hv_.sets.empty());
  EXPECT_EQ(r.clamps[Rule::kStale], 1);
  EXPECT_EQ(log_.Count("balloon stats are stale (50 s old)"), 1);
  hv_.snapshot.guests[0].stats_time_s = 100;
  controller_.Tick();
  controller_.Tick();
  EXPECT_EQ(log_.Count("balloon stats are fresh again"), 1);
  EXPECT_EQ(hv_.sets.size(), 2u);  // acts again on both fresh ticks
}

TEST_F(ControllerTest, InvalidConfigKeepsThePreviousOne) {
  Config bad = config_;
  bad.policy = "nonsense";
  Status s = controller_.Configure(bad);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(controller_.config().policy, "seed");
  bad = config_;
  bad.thresholds.waste_mib = 100;
  EXPECT_FALSE(controller_.Configure(bad).ok());
  EXPECT_EQ(controller_.config().thresholds.waste_mib, 300);
}

// A policy that always asks for the same target for guest "a".
class FixedPolicy : public Policy {
 public:
  explicit FixedPolicy(int64_t target_kib) : target_kib_(target_kib) {}
  std::string_view name() const override { return "fixed"; }
  Plan Decide(const Snapshot& snapshot) override {
    Plan plan;
    if (const GuestSample* g = snapshot.Find("a")) {
      plan.actions.push_back(
          {"a", g->actual_kib, target_kib_, Reason::kBalance});
    }
    return plan;
  }

 private:
  int64_t target_kib_;
};

TEST_F(ControllerTest, TicksWithAnInjectedPolicyUntilReconfigured) {
  ASSERT_TRUE(
      controller_
          .Configure(config_, std::make_unique<FixedPolicy>(MibToKib(1100)))
          .ok());
  hv_.snapshot = Snap({Guest("a", 1024, 300, 2048, 100)}, 4096, 16384, 100);
  TickReport r = controller_.Tick();
  EXPECT_EQ(r.policy, "fixed");
  ASSERT_EQ(hv_.sets.size(), 1u);
  EXPECT_EQ(hv_.sets[0], std::make_pair(std::string("a"), MibToKib(1100)));
  // The config still names seed: configuring it again brings seed back.
  ASSERT_TRUE(controller_.Configure(config_).ok());
  EXPECT_EQ(controller_.Tick().policy, "seed");
}

TEST_F(ControllerTest, InjectedPolicyNeedsAPolicyAndAValidConfig) {
  EXPECT_FALSE(controller_.Configure(config_, nullptr).ok());
  Config bad = config_;
  bad.thresholds.waste_mib = 100;
  EXPECT_FALSE(
      controller_.Configure(bad, std::make_unique<FixedPolicy>(0)).ok());
  EXPECT_EQ(controller_.Tick().policy, "seed");
}

}  // namespace
}  // namespace memcoord
