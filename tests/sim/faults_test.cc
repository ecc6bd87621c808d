// Fault injection on the simulator: sampling fails, setting fails, stats go
// stale or disappear, guests vanish between sample and set, and the hypervisor
// reports absurd values. For each: no action for the guest at fault, the error
// is counted (TickReport, ActionResult, clamps), one log line per state change,
// the other guests carry on, and nothing crashes.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fixtures.h"
#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/controller.h"
#include "memcoord/guardrails.h"
#include "memcoord/log.h"
#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/simulator.h"

namespace memcoord {
namespace {

Scenario BusyAndIdle() { return testing::BusyAndIdle("faults"); }

// Counts what a metrics sink would count.
class CountingSink : public MetricsSink {
 public:
  void Record(const TickReport& report,
              const HypervisorHealth& health) override {
    ++ticks;
    if (!report.sample_status.ok()) ++sample_errors;
    for (const ActionResult& r : report.results) {
      if (!r.status.ok()) ++set_errors[r.action.domain];
    }
    for (int i = 0; i < kRuleCount; ++i) clamps[i] += report.clamps.by_rule[i];
    up = health.up;
  }
  int ticks = 0;
  int sample_errors = 0;
  std::map<std::string, int> set_errors;
  std::array<int64_t, kRuleCount> clamps{};
  bool up = true;
};

// Wraps a hypervisor and lets a test rewrite every sample and intercept sets.
class Decorator : public Hypervisor {
 public:
  explicit Decorator(Hypervisor* inner) : inner_(inner) {}
  Result<Snapshot> Sample() override {
    Result<Snapshot> s = inner_->Sample();
    if (s.ok() && corrupt) {
      for (GuestSample& g : s->guests) corrupt(g);
    }
    return s;
  }
  Status SetTarget(const std::string& domain, int64_t target_kib) override {
    if (before_set) before_set(domain);
    Status st = inner_->SetTarget(domain, target_kib);
    sets.push_back({domain, target_kib, st});
    return st;
  }
  HypervisorHealth Health() const override { return inner_->Health(); }

  struct Set {
    std::string domain;
    int64_t target_kib;
    Status status;
  };
  std::function<void(GuestSample&)> corrupt;
  std::function<void(const std::string&)> before_set;
  std::vector<Set> sets;

 private:
  Hypervisor* inner_;
};

// A simulator, a controller with a MemoryLogger, and a manual clock.
struct Rig {
  explicit Rig(Scenario s, const std::string& policy = "seed")
      : sim(std::move(s), &clock, 0),
        deco(&sim),
        ctl(&deco, &clock, &log, &sink) {
    Config c;
    c.policy = policy;
    c.interval_s = sim.scenario().interval_s;
    Status st = ctl.Configure(c);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  TickReport Tick() {
    clock.Set(now);
    TickReport r = ctl.Tick();
    now += sim.scenario().interval_s;
    CheckInvariants(r);
    return r;
  }
  // Every tick, whatever the fault: guardrails hold on what was applied.
  void CheckInvariants(const TickReport& r) {
    if (!r.sample_status.ok()) {
      EXPECT_TRUE(r.applied.actions.empty());
      EXPECT_TRUE(r.results.empty());
      return;
    }
    for (const std::string& v :
         Violations(r.applied, r.snapshot, ctl.guardrail_params())) {
      ADD_FAILURE() << "t=" << r.time_s << ": " << v;
    }
    for (const Action& a : r.applied.actions) {
      const GuestSample* g = r.snapshot.Find(a.domain);
      ASSERT_NE(g, nullptr);
      if (a.grow()) {
        EXPECT_LE(a.target_kib, g->ceiling_kib()) << a.domain;
      } else {
        EXPECT_GE(a.target_kib, g->limits.floor_kib) << a.domain;
      }
      EXPECT_GE(a.target_kib, 0) << a.domain;
    }
  }
  int64_t Sets() { return sim.Health().calls["set_target"]; }
  static bool ActsOn(const TickReport& r, const std::string& domain) {
    return r.applied.Find(domain) != nullptr;
  }

  ManualClock clock{0};
  SimHypervisor sim;
  Decorator deco;
  MemoryLogger log;
  CountingSink sink;
  Controller ctl;
  double now = 0;
};

TEST(FaultsTest, BaselineActsOnBothGuests) {
  Rig rig(BusyAndIdle());
  std::set<std::string> acted;
  for (int i = 0; i < 60; ++i) {
    for (const Action& a : rig.Tick().applied.actions) acted.insert(a.domain);
  }
  EXPECT_EQ(acted, (std::set<std::string>{"busy", "idle"}))
      << "the fault tests below rely on both guests getting actions";
  EXPECT_EQ(rig.sink.sample_errors, 0);
  EXPECT_TRUE(rig.sink.set_errors.empty());
}

TEST(FaultsTest, SamplingFailsNoActionOneLineEachWay) {
  Rig rig(BusyAndIdle());
  for (int i = 0; i < 5; ++i) rig.Tick();
  const int64_t sets_before = rig.Sets();
  rig.sim.faults().sample_fails = true;
  for (int i = 0; i < 20; ++i) {
    TickReport r = rig.Tick();
    EXPECT_EQ(r.sample_status.code(), Status::Code::kUnavailable);
    EXPECT_TRUE(r.proposed.actions.empty());
  }
  EXPECT_EQ(rig.Sets(), sets_before) << "no balloon command while blind";
  EXPECT_EQ(rig.sink.sample_errors, 20);
  EXPECT_FALSE(rig.sink.up);
  EXPECT_EQ(rig.log.Count("sampling failed"), 1);
  EXPECT_EQ(rig.log.Count("sampling recovered"), 0);

  rig.sim.faults().sample_fails = false;
  bool acted = false;
  for (int i = 0; i < 20; ++i) acted |= !rig.Tick().applied.actions.empty();
  EXPECT_TRUE(acted) << "actions resume after recovery";
  EXPECT_TRUE(rig.sink.up);
  EXPECT_EQ(rig.sink.sample_errors, 20);
  EXPECT_EQ(rig.log.Count("sampling failed"), 1);
  EXPECT_EQ(rig.log.Count("sampling recovered"), 1);
}

TEST(FaultsTest, SettingFailsCostsOnlyThatGuest) {
  Rig rig(BusyAndIdle());
  rig.sim.faults().set_fails = {"idle"};
  int idle_failures = 0;
  int busy_ok = 0;
  const double idle_start = rig.sim.guest("idle")->target_mib;
  for (int i = 0; i < 90; ++i) {
    TickReport r = rig.Tick();
    for (const ActionResult& res : r.results) {
      if (res.action.domain == "idle") {
        EXPECT_EQ(res.status.code(), Status::Code::kUnavailable);
        ++idle_failures;
      } else {
        EXPECT_TRUE(res.status.ok()) << res.status.ToString();
        ++busy_ok;
      }
    }
  }
  ASSERT_GT(idle_failures, 3) << "the policy kept asking the failing guest";
  EXPECT_GT(busy_ok, 0) << "the healthy guest still gets memory";
  EXPECT_EQ(rig.sim.guest("idle")->target_mib, idle_start);
  EXPECT_EQ(rig.sink.set_errors["idle"], idle_failures);
  EXPECT_EQ(rig.sink.set_errors.count("busy"), 0u);
  EXPECT_EQ(rig.log.Count("failed: setting memory of domain 'idle'"), 1)
      << "one line for the failure, not one per tick";

  rig.sim.faults().set_fails.clear();
  bool idle_set = false;
  for (int i = 0; i < 30 && !idle_set; ++i) {
    for (const ActionResult& res : rig.Tick().results) {
      if (res.action.domain == "idle" && res.status.ok()) idle_set = true;
    }
  }
  EXPECT_TRUE(idle_set);
  EXPECT_EQ(rig.log.Count("domain idle: balloon commands work again"), 1);
  EXPECT_EQ(rig.log.Count("failed: setting memory of domain 'idle'"), 1);
}

TEST(FaultsTest, StaleStatsGetNoActionAndAreCounted) {
  Rig rig(BusyAndIdle());
  rig.Tick();
  rig.sim.faults().stale = {"idle"};
  const double stale_after = rig.ctl.guardrail_params().stale_after_s;
  int stale_ticks = 0;
  for (int i = 0; i < 40; ++i) {
    TickReport r = rig.Tick();
    const GuestSample* idle = r.snapshot.Find("idle");
    ASSERT_NE(idle, nullptr);
    ASSERT_TRUE(idle->stats_time_s.has_value());
    if (r.time_s - *idle->stats_time_s > stale_after) {
      ++stale_ticks;
      EXPECT_FALSE(Rig::ActsOn(r, "idle")) << "t=" << r.time_s;
      for (const ActionResult& res : r.results) {
        EXPECT_NE(res.action.domain, "idle");
      }
    }
  }
  ASSERT_GT(stale_ticks, 30);
  EXPECT_GT(rig.sink.clamps[static_cast<int>(Rule::kStale)], 0)
      << "proposals for the stale guest are dropped and counted under G5";

  rig.sim.faults().stale.clear();
  bool acted = false;
  for (int i = 0; i < 10; ++i) acted |= Rig::ActsOn(rig.Tick(), "idle");
  EXPECT_TRUE(acted) << "fresh stats bring actions back";
}

// One log line when a guest changes state. Stats that stop
// refreshing are such a change (the guest gets no action from then on), and
// so is their return. Controller::NoteGuestStates() only looks at
// has_stats(), so today a guest whose stats go stale is silently ignored.
TEST(FaultsTest, StaleStatsAreLoggedOnceEachWay) {
  Rig rig(BusyAndIdle());
  rig.Tick();
  const size_t first = rig.log.lines().size();
  // State lines read "domain idle <what>"; action lines "domain idle: ...".
  auto state_lines = [&] {
    std::vector<std::string> out;
    const std::vector<std::string> lines = rig.log.lines();
    for (size_t i = first; i < lines.size(); ++i) {
      if (lines[i].find("domain idle ") != std::string::npos)
        out.push_back(lines[i]);
    }
    return out;
  };
  rig.sim.faults().stale = {"idle"};
  for (int i = 0; i < 30; ++i) rig.Tick();
  std::vector<std::string> lines = state_lines();
  ASSERT_EQ(lines.size(), 1u) << "one line when idle's stats went stale";
  EXPECT_NE(lines[0].find("stale"), std::string::npos) << lines[0];
  rig.sim.faults().stale.clear();
  for (int i = 0; i < 10; ++i) rig.Tick();
  EXPECT_EQ(state_lines().size(), 2u) << "and one when they are fresh again";
}

TEST(FaultsTest, StatsDisappearAndReturn) {
  Scenario s = BusyAndIdle();
  WorkloadOp off;
  off.at_s = 10;
  off.kind = WorkloadOp::Kind::kStats;
  off.on = false;
  WorkloadOp on = off;
  on.at_s = 40;
  on.on = true;
  s.guests[1].workload = {off, on};
  Rig rig(s);
  for (int i = 0; i < 60; ++i) {
    TickReport r = rig.Tick();
    const GuestSample* idle = r.snapshot.Find("idle");
    ASSERT_NE(idle, nullptr);
    if (r.time_s > 10.5 && r.time_s < 40) {
      EXPECT_FALSE(idle->has_stats()) << "t=" << r.time_s;
      EXPECT_FALSE(Rig::ActsOn(r, "idle")) << "t=" << r.time_s;
      EXPECT_EQ(r.classes.at("idle"), GuestClass::kUnknown);
    }
  }
  EXPECT_EQ(rig.log.Count("domain idle lost its balloon stats"), 1);
  EXPECT_EQ(rig.log.Count("domain idle reports balloon stats"), 1);
}

TEST(FaultsTest, GuestVanishesBetweenSampleAndSet) {
  Rig rig(BusyAndIdle());
  rig.sim.faults().vanish_on_set = {"idle"};
  int not_found = 0;
  int idle_sampled_after = 0;
  for (int i = 0; i < 60; ++i) {
    TickReport r = rig.Tick();
    for (const ActionResult& res : r.results) {
      if (res.action.domain == "idle") {
        EXPECT_EQ(res.status.code(), Status::Code::kNotFound);
        ++not_found;
      }
    }
    if (not_found > 0 && r.snapshot.Find("idle") != nullptr)
      ++idle_sampled_after;
  }
  EXPECT_EQ(not_found, 1) << "one failed command, then the guest is gone";
  EXPECT_LE(idle_sampled_after, 1);
  EXPECT_EQ(rig.sink.set_errors["idle"], 1);
  EXPECT_EQ(rig.log.Count("domain idle is gone"), 1);
  EXPECT_EQ(rig.log.Count("failed: domain 'idle' vanished"), 1);
  EXPECT_FALSE(rig.sim.guest("idle")->running);
  int busy_sets = 0;
  for (const Decorator::Set& set : rig.deco.sets) {
    if (set.domain == "busy") {
      EXPECT_TRUE(set.status.ok());
      ++busy_sets;
    }
  }
  EXPECT_GT(busy_sets, 0) << "the other guest carries on";
}

// The guest is destroyed by someone else after the sample, before the set:
// SetTarget says NotFound, like libvirt's VIR_ERR_NO_DOMAIN.
TEST(FaultsTest, GuestDestroyedByAnotherToolMidTick) {
  Scenario s = BusyAndIdle();
  Rig rig(s);
  bool armed = false;
  rig.deco.before_set = [&](const std::string& domain) {
    if (armed && domain == "idle")
      rig.sim.faults().vanish_on_set.insert("idle");
  };
  for (int i = 0; i < 5; ++i) rig.Tick();
  armed = true;
  for (int i = 0; i < 30; ++i) rig.Tick();
  EXPECT_EQ(rig.sink.set_errors["idle"], 1);
  EXPECT_EQ(rig.log.Count("domain idle is gone"), 1);
  EXPECT_EQ(rig.log.Count("domain idle appeared"), 1);
}

// --- absurd values -------------------------------------------------------
// The libvirt adapter drops absurd guest statistics (guest_params.cc; tested
// through the controller in tests/reliability). The core must still be safe
// when a hypervisor hands it such values: every guardrail holds on what is
// applied and no target leaves [0, maximum].

struct Corruption {
  const char* name;
  std::function<void(GuestSample&, int)> apply;  // (guest, sample number)
};

std::vector<Corruption> Corruptions() {
  return {
      {"unused_above_actual",
       [](GuestSample& g, int) {
         if (!g.has_stats()) return;
         g.unused_kib = g.actual_kib * 3;
         g.usable_kib = g.actual_kib * 3;
       }},
      {"zero_maximum", [](GuestSample& g, int) { g.maximum_kib = 0; }},
      {"actual_above_maximum",
       [](GuestSample& g, int) { g.maximum_kib = g.actual_kib / 2; }},
      {"counters_backwards",
       [](GuestSample& g, int n) {
         const int64_t v = 1000000 - 5000 * n;
         g.swap_in_kib = v;
         g.swap_out_kib = v;
         g.major_faults = v;
         g.minor_faults = v;
       }},
      {"negative_unused",
       [](GuestSample& g, int) {
         if (!g.has_stats()) return;
         g.unused_kib = -MibToKib(512);
         g.usable_kib = -MibToKib(512);
       }},
      {"huge_values",
       [](GuestSample& g, int) {
         if (!g.has_stats()) return;
         g.unused_kib = std::numeric_limits<int64_t>::max() / 4;
         g.usable_kib = std::numeric_limits<int64_t>::max() / 4;
         g.memtotal_kib = std::numeric_limits<int64_t>::max() / 4;
       }},
      {"stats_from_the_future",
       [](GuestSample& g, int) {
         if (g.stats_time_s) *g.stats_time_s += 1e6;
       }},
      {"available_zero",
       [](GuestSample& g, int) {
         if (g.has_stats()) g.memtotal_kib = 0;
       }},
  };
}

class AbsurdValuesTest
    : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(AbsurdValuesTest, GuardrailsHoldOnCorruptedGuest) {
  const Corruption c = Corruptions()[std::get<0>(GetParam())];
  Rig rig(BusyAndIdle(), std::get<1>(GetParam()));
  int n = 0;
  rig.deco.corrupt = [&](GuestSample& g) {
    if (g.name == "idle") c.apply(g, n++);
  };
  for (int i = 0; i < 120; ++i) rig.Tick();  // CheckInvariants on each
  for (const Decorator::Set& set : rig.deco.sets) {
    // The simulator refuses targets outside [0, maximum] with
    // InvalidArgument: the controller must never send one.
    EXPECT_NE(set.status.code(), Status::Code::kInvalidArgument)
        << c.name << ": " << set.status.ToString();
  }
  const SimGuestState idle = *rig.sim.guest("idle");
  EXPECT_GE(idle.target_mib, 256 - 1e-9) << c.name << ": below the floor";
  EXPECT_LE(idle.target_mib, idle.max_mib) << c.name;
}

std::string AbsurdName(
    const ::testing::TestParamInfo<std::tuple<int, std::string>>& info) {
  return std::string(Corruptions()[std::get<0>(info.param)].name) + "_" +
         std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(
    AllPolicies, AbsurdValuesTest,
    ::testing::Combine(::testing::Range(0,
                                        static_cast<int>(Corruptions().size())),
                       ::testing::ValuesIn(PolicyNames())),
    AbsurdName);

// Counters that go backwards (a guest reboot, or garbage) are not a sign of
// swapping: every policy does exactly what it does when the counters stand
// still.
TEST(FaultsTest, CountersBackwardsChangeNoDecision) {
  Scenario s = BusyAndIdle();
  s.guests[1].start_mib = 3072;  // room to grow, so a wrong grow would show
  for (const std::string& policy : PolicyNames()) {
    auto run = [&](bool backwards) {
      Rig rig(s, policy);
      int n = 0;
      rig.deco.corrupt = [&](GuestSample& g) {
        if (g.name != "idle") return;
        const int64_t step = backwards ? n++ : 0;
        g.swap_in_kib = (int64_t{1} << 30) - 4096 * step;
        g.swap_out_kib = (int64_t{1} << 30) - 4096 * step;
        g.major_faults = (int64_t{1} << 20) - 64 * step;
      };
      std::vector<std::string> plan;
      for (int i = 0; i < 60; ++i) {
        for (const Action& a : rig.Tick().applied.actions) {
          plan.push_back(std::to_string(i) + " " + a.domain + " " +
                         std::to_string(a.target_kib) + " " +
                         std::string(ReasonName(a.reason)));
        }
      }
      return plan;
    };
    const std::vector<std::string> still = run(false);
    const std::vector<std::string> backwards = run(true);
    EXPECT_FALSE(still.empty()) << policy;
    EXPECT_EQ(still, backwards) << policy;
  }
}

// Any mix of the faults above, switched on and off at random ticks, with
// every policy: guardrails hold on every tick and nothing crashes.
TEST(FaultsTest, RandomFaultStormKeepsGuardrails) {
  const uint32_t seed = 20240601;
  std::mt19937 rng(seed);
  const std::vector<Corruption> corruptions = Corruptions();
  for (const std::string& policy : PolicyNames()) {
    for (int run = 0; run < 10; ++run) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " policy " + policy +
                   " run " + std::to_string(run));
      Rig rig(BusyAndIdle(), policy);
      int active = -1;
      int n = 0;
      int sample_outages = 0;
      rig.deco.corrupt = [&](GuestSample& g) {
        if (active >= 0 && g.name == "idle") corruptions[active].apply(g, n++);
      };
      for (int i = 0; i < 80; ++i) {
        std::uniform_int_distribution<int> pick(0, 9);
        SimFaults& f = rig.sim.faults();
        const int event = pick(rng);
        if (event == 0) {
          f.sample_fails = !f.sample_fails;
          if (f.sample_fails) ++sample_outages;
        } else if (event == 1) {
          if (f.set_fails.empty()) {
            f.set_fails = {"idle"};
          } else {
            f.set_fails.clear();
          }
        } else if (event == 2) {
          if (f.stale.empty()) {
            f.stale = {"busy"};
          } else {
            f.stale.clear();
          }
        } else if (event == 3) {
          active = std::uniform_int_distribution<int>(
              -1, static_cast<int>(corruptions.size()) - 1)(rng);
        }
        rig.Tick();
        if (::testing::Test::HasFatalFailure()) return;
      }
      // One line per outage, not one per tick.
      EXPECT_EQ(rig.log.Count("sampling failed"), sample_outages);
    }
  }
}

}  // namespace
}  // namespace memcoord
