// Absurd values the way they arrive from libvirt: the simulator's guests are
// turned into the typed parameters virConnectGetAllDomainStats returns, one
// of them is corrupted, and the libvirt adapter's conversion
// (GuestSampleFromParams) turns them back into samples for the controller.
// The guest at fault must get no action and class `unknown`, the controller
// logs one line when its stats go and one when they come back, and the other
// guest carries on.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "guest_params.h"
#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/controller.h"
#include "memcoord/guardrails.h"
#include "memcoord/log.h"
#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/simulator.h"

#include "../sim/fixtures.h"

namespace memcoord {
namespace {

// libvirt reports stats times in seconds since the epoch; 0 means never.
constexpr double kEpochStart = 1.7e9;

std::vector<TypedParam> ToParams(const GuestSample& g) {
  std::vector<TypedParam> p;
  auto add = [&](const char* name, const std::optional<int64_t>& v) {
    if (v) p.push_back(TypedParam::Uint(name, static_cast<uint64_t>(*v)));
  };
  add("balloon.current", g.actual_kib);
  add("balloon.maximum", g.maximum_kib);
  add("balloon.rss", g.rss_kib);
  add("balloon.unused", g.unused_kib);
  add("balloon.usable", g.usable_kib);
  add("balloon.available", g.memtotal_kib);
  add("balloon.swap_in", g.swap_in_kib);
  add("balloon.swap_out", g.swap_out_kib);
  add("balloon.major_fault", g.major_faults);
  add("balloon.minor_fault", g.minor_faults);
  if (g.stats_time_s) {
    add("balloon.last-update", static_cast<int64_t>(*g.stats_time_s));
  }
  return p;
}

void Set(std::vector<TypedParam>& params, const std::string& name, TypedParam v) {
  v.name = name;
  for (TypedParam& p : params) {
    if (p.name == name) {
      p = v;
      return;
    }
  }
  params.push_back(v);
}

int64_t Get(const std::vector<TypedParam>& params, const std::string& name) {
  for (const TypedParam& p : params) {
    if (p.name == name) return *TypedParamInt64(p);
  }
  return 0;
}

// The simulator behind the libvirt adapter's stats conversion.
class LibvirtShaped : public Hypervisor {
 public:
  explicit LibvirtShaped(SimHypervisor* sim) : sim_(sim) {}
  Result<Snapshot> Sample() override {
    Result<Snapshot> s = sim_->Sample();
    if (!s.ok()) return s;
    for (GuestSample& g : s->guests) {
      std::vector<TypedParam> params = ToParams(g);
      if (corrupt && g.name == target) corrupt(params);
      std::string why;
      Result<GuestSample> converted = GuestSampleFromParams(g.name, params, &why);
      EXPECT_TRUE(converted.ok()) << converted.status().ToString();
      if (!converted.ok()) continue;
      if (g.name == target) last_dropped = why;
      converted->metadata = g.metadata;
      converted->target_kib = g.target_kib;
      g = std::move(converted.value());
    }
    return s;
  }
  Status SetTarget(const std::string& domain, int64_t kib) override {
    return sim_->SetTarget(domain, kib);
  }
  HypervisorHealth Health() const override { return sim_->Health(); }

  std::string target = "idle";
  std::function<void(std::vector<TypedParam>&)> corrupt;
  std::string last_dropped;

 private:
  SimHypervisor* sim_;
};

Scenario BusyAndIdle() { return testing::BusyAndIdle("adapter-faults"); }

struct Corruption {
  const char* name;
  std::function<void(std::vector<TypedParam>&)> apply;
};

std::vector<Corruption> Corruptions() {
  return {
      {"unused_above_available",
       [](auto& p) {
         Set(p, "balloon.unused", TypedParam::Uint("", Get(p, "balloon.available") * 2));
       }},
      {"usable_above_current",
       [](auto& p) {
         Set(p, "balloon.usable", TypedParam::Uint("", Get(p, "balloon.current") + 4096));
         p.erase(std::remove_if(p.begin(), p.end(),
                                [](const TypedParam& t) { return t.name == "balloon.available"; }),
                 p.end());
       }},
      {"zero_maximum", [](auto& p) { Set(p, "balloon.maximum", TypedParam::Uint("", 0)); }},
      {"current_above_maximum",
       [](auto& p) {
         Set(p, "balloon.maximum", TypedParam::Uint("", Get(p, "balloon.current") / 2));
       }},
      {"available_above_maximum",
       [](auto& p) {
         Set(p, "balloon.available", TypedParam::Uint("", Get(p, "balloon.maximum") + 1));
       }},
      {"negative_unused",
       [](auto& p) { Set(p, "balloon.unused", TypedParam::Int("", -1024)); }},
      {"unused_not_an_integer",
       [](auto& p) {
         TypedParam d;
         d.type = TypedParam::Type::kDouble;
         d.value = 1.5e6;
         Set(p, "balloon.unused", d);
       }},
      {"counter_too_large",
       [](auto& p) {
         Set(p, "balloon.swap_in", TypedParam::Uint("", ~uint64_t{0}));
       }},
  };
}

class AdapterAbsurdTest : public ::testing::TestWithParam<int> {};

TEST_P(AdapterAbsurdTest, GuestGetsNoActionAndOneLineEachWay) {
  const Corruption c = Corruptions()[GetParam()];
  for (const std::string& policy : PolicyNames()) {
    SCOPED_TRACE(std::string(c.name) + " " + policy);
    ManualClock clock(kEpochStart);
    SimHypervisor sim(BusyAndIdle(), &clock, kEpochStart);
    LibvirtShaped shaped(&sim);
    MemoryLogger log;
    Controller ctl(&shaped, &clock, &log, nullptr);
    Config config;
    config.policy = policy;
    config.interval_s = 1;
    ASSERT_TRUE(ctl.Configure(config).ok());
    double now = kEpochStart;
    auto tick = [&] {
      clock.Set(now);
      now += 1;
      TickReport r = ctl.Tick();
      EXPECT_TRUE(r.sample_status.ok());
      for (const std::string& v : Violations(r.applied, r.snapshot, ctl.guardrail_params())) {
        ADD_FAILURE() << v;
      }
      return r;
    };
    for (int i = 0; i < 5; ++i) tick();
    ASSERT_TRUE(shaped.last_dropped.empty()) << shaped.last_dropped;

    const int back_before = log.Count("domain idle reports balloon stats");
    shaped.corrupt = c.apply;
    int busy_actions = 0;
    for (int i = 0; i < 60; ++i) {
      TickReport r = tick();
      EXPECT_FALSE(shaped.last_dropped.empty()) << "the adapter took it";
      const GuestSample* idle = r.snapshot.Find("idle");
      ASSERT_NE(idle, nullptr);
      EXPECT_FALSE(idle->has_stats());
      EXPECT_EQ(r.applied.Find("idle"), nullptr) << "t=" << r.time_s - kEpochStart;
      EXPECT_EQ(r.classes.at("idle"), GuestClass::kUnknown);
      if (r.applied.Find("busy") != nullptr) ++busy_actions;
    }
    EXPECT_GT(busy_actions, 0) << "the other guest carries on";
    EXPECT_EQ(log.Count("domain idle lost its balloon stats"), 1);

    shaped.corrupt = nullptr;
    for (int i = 0; i < 10; ++i) tick();
    EXPECT_EQ(log.Count("domain idle reports balloon stats"), back_before + 1);
    EXPECT_EQ(log.Count("domain idle lost its balloon stats"), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corruptions, AdapterAbsurdTest,
    ::testing::Range(0, static_cast<int>(Corruptions().size())),
    [](const ::testing::TestParamInfo<int>& info) {
      return std::string(Corruptions()[info.param].name);
    });

// Counters going backwards (a guest that rebooted) are not absurd: the stats
// stay, and every policy decides exactly what it decides when the counters
// stand still.
TEST(AdapterFaultsTest, CountersBackwardsKeepStatsAndChangeNoDecision) {
  Scenario s = BusyAndIdle();
  s.guests[1].start_mib = 3072;  // room to grow, so a wrong grow would show
  for (const std::string& policy : PolicyNames()) {
    auto run = [&](bool backwards) {
      ManualClock clock(kEpochStart);
      SimHypervisor sim(s, &clock, kEpochStart);
      LibvirtShaped shaped(&sim);
      uint64_t n = 0;
      shaped.corrupt = [&](std::vector<TypedParam>& p) {
        const uint64_t step = backwards ? n++ : 0;
        const uint64_t v = (uint64_t{1} << 30) - 4096 * step;
        Set(p, "balloon.swap_in", TypedParam::Uint("", v));
        Set(p, "balloon.swap_out", TypedParam::Uint("", v));
        Set(p, "balloon.major_fault", TypedParam::Uint("", v / 4));
      };
      NullLogger log;
      Controller ctl(&shaped, &clock, &log, nullptr);
      Config config;
      config.policy = policy;
      config.interval_s = 1;
      EXPECT_TRUE(ctl.Configure(config).ok());
      std::vector<std::string> plan;
      for (int i = 0; i < 40; ++i) {
        clock.Set(kEpochStart + i);
        TickReport r = ctl.Tick();
        const GuestSample* idle = r.snapshot.Find("idle");
        EXPECT_TRUE(idle != nullptr && idle->has_stats()) << policy << " t=" << i;
        for (const Action& a : r.applied.actions) {
          plan.push_back(std::to_string(i) + " " + a.domain + " " +
                         std::to_string(a.target_kib));
        }
      }
      return plan;
    };
    const std::vector<std::string> still = run(false);
    EXPECT_FALSE(still.empty()) << policy;
    EXPECT_EQ(still, run(true)) << policy;
  }
}

}  // namespace
}  // namespace memcoord
