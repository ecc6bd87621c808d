// Property test: random scenarios and random guardrail settings, run with
// every policy. At every tick:
//   - Violations() of the applied plan is empty (G1-G6 hold);
//   - no target leaves [floor, ceiling]: a grow never ends above the ceiling
//     and a shrink never ends below the floor (a guest outside its range may
//     move toward it, and that is all);
//   - guardrails only lower or drop actions: every applied action was
//     proposed for the same guest, in the same direction, and moves no more;
//   - every balloon command the simulator receives is accepted.
// Reproducible: scenario k is drawn from std::mt19937(seed + k). A failure
// prints the seed, k and the scenario; rerun one case with
//   MEMCOORD_PROPERTY_SEED=<seed> MEMCOORD_PROPERTY_CASE=<k>
// and more cases with MEMCOORD_PROPERTY_CASES=<n>.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "memcoord/config.h"
#include "memcoord/guardrails.h"
#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/simulate.h"

namespace memcoord {
namespace {

constexpr uint32_t kDefaultSeed = 0x6d656d63;  // "memc"
constexpr int kDefaultCases = 4000;

uint32_t EnvU32(const char* name, uint32_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return static_cast<uint32_t>(std::strtoul(v, nullptr, 0));
}

struct Case {
  Scenario scenario;
  Config config;
};

std::string Describe(const Case& c) {
  std::ostringstream o;
  const Scenario& s = c.scenario;
  o << "scenario duration " << s.duration_s << " s, interval " << s.interval_s
    << " s, host " << s.host_total_mib << " MiB (used " << s.host_used_mib
    << "), budget "
    << (s.guest_budget_mib ? std::to_string(*s.guest_budget_mib) : "none")
    << "\nguardrails: min_unused " << c.config.guardrails.guest_min_unused_mib
    << ", host_min_free " << c.config.guardrails.host_min_free_mib
    << ", release " << c.config.guardrails.max_release_fraction
    << "; thresholds " << c.config.thresholds.starvation_mib << "/"
    << c.config.thresholds.waste_mib << "\n";
  for (const DomainOverride& ov : c.config.domains.overrides) {
    o << "override " << ov.match << ": min "
      << (ov.settings.min_mib ? std::to_string(*ov.settings.min_mib) : "-")
      << " max "
      << (ov.settings.max_mib ? std::to_string(*ov.settings.max_mib) : "-")
      << " managed "
      << (ov.settings.managed ? std::to_string(*ov.settings.managed) : "-")
      << "\n";
  }
  for (const ScenarioGuest& g : s.guests) {
    o << "guest " << g.name << ": max " << g.max_mib << " start " << g.start_mib
      << " base " << g.base_used_mib << " rate " << g.balloon_rate_mib_s
      << " swap " << g.swap_mib << " stats " << g.stats << " at "
      << (g.at_s ? std::to_string(*g.at_s) : "0") << " min "
      << (g.min_mib ? std::to_string(*g.min_mib) : "-") << " shares "
      << (g.shares ? std::to_string(*g.shares) : "-") << "\n";
    for (const WorkloadOp& op : g.workload) {
      o << "  " << op.at_s << " " << OpName(op.kind) << " " << op.mib << " @"
        << op.rate_mib_s << (op.on ? "" : " off") << "\n";
    }
  }
  return o.str();
}

// Draws a valid scenario and configuration. Small on purpose: a few guests,
// tens of seconds, so that thousands of runs take seconds.
Case RandomCase(std::mt19937& rng) {
  auto uni = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return uni(0, 1) < p; };
  auto mib = [&](double lo, double hi) { return std::round(uni(lo, hi)); };

  Case c;
  Scenario& s = c.scenario;
  s.name = "random";
  const double intervals[] = {0.5, 1, 1, 2, 3};
  s.interval_s = intervals[pick(0, 4)];
  s.duration_s = std::round(uni(8, 40) * s.interval_s);
  s.host_used_mib = mib(64, 1024);
  const int guests = pick(1, 4);
  double start_sum = 0;
  for (int i = 0; i < guests; ++i) {
    ScenarioGuest g;
    g.name = "vm" + std::to_string(i);
    g.max_mib = mib(300, 4096);
    g.base_used_mib = mib(16, std::min(400.0, g.max_mib * 0.5));
    g.start_mib = mib(g.base_used_mib + 1, g.max_mib);
    g.balloon_rate_mib_s = chance(0.2) ? 1e6 : mib(10, 600);
    g.swap_mib = chance(0.3) ? mib(64, 1024) : 0;
    g.stats = chance(0.9);
    if (chance(0.3)) g.min_mib = static_cast<int64_t>(mib(0, g.max_mib));
    if (chance(0.3)) g.shares = pick(0, 4000);
    double t = 0;
    if (i > 0 && chance(0.15)) {
      g.at_s = std::round(uni(0, s.duration_s * 0.5));
      t = *g.at_s;
    } else {
      start_sum += g.start_mib;
    }
    const int ops = pick(0, 6);
    for (int k = 0; k < ops; ++k) {
      t = std::min(s.duration_s, t + std::round(uni(0, s.duration_s / 3)));
      WorkloadOp op;
      op.at_s = t;
      const int kind = pick(0, 9);
      if (kind <= 2) {
        op.kind = WorkloadOp::Kind::kAlloc;
        op.mib = mib(1, g.max_mib * 1.5);
        op.rate_mib_s = chance(0.2) ? 0 : mib(5, 400);
      } else if (kind == 3) {
        op.kind = WorkloadOp::Kind::kFree;
        op.mib = mib(1, g.max_mib);
        op.rate_mib_s = chance(0.3) ? 0 : mib(5, 400);
      } else if (kind == 4) {
        op.kind = WorkloadOp::Kind::kFreeAll;
      } else if (kind == 5) {
        op.kind = WorkloadOp::Kind::kCache;
        op.mib = mib(1, g.max_mib);
        op.rate_mib_s = chance(0.3) ? 0 : mib(5, 400);
      } else if (kind == 6) {
        op.kind = WorkloadOp::Kind::kDropCache;
      } else if (kind == 7) {
        op.kind = WorkloadOp::Kind::kStats;
        op.on = chance(0.5);
      } else if (kind == 8) {
        op.kind = WorkloadOp::Kind::kDestroy;
      } else {
        op.kind = WorkloadOp::Kind::kStart;
      }
      g.workload.push_back(op);
    }
    s.guests.push_back(std::move(g));
  }
  // Guests at time 0 must fit on the host; sometimes only just.
  const double slack = chance(0.3) ? mib(0, 256) : mib(256, 8192);
  s.host_total_mib = s.host_used_mib + start_sum + slack + 1;
  if (chance(0.2)) {
    s.guest_budget_mib = static_cast<int64_t>(mib(start_sum * 0.5 + 1, start_sum * 1.5 + 1));
  }

  Config& cfg = c.config;
  cfg.guardrails.guest_min_unused_mib = pick(0, 1) ? 100 : pick(0, 400);
  cfg.guardrails.host_min_free_mib = pick(0, 1) ? 200 : pick(0, 1000);
  cfg.guardrails.max_release_fraction = chance(0.5) ? 0.5 : uni(0.01, 1);
  if (chance(0.3)) cfg.guardrails.stale_after_s = uni(0.5, 5);
  cfg.thresholds.starvation_mib = pick(0, 1) ? 150 : pick(0, 500);
  cfg.thresholds.waste_mib = cfg.thresholds.starvation_mib + pick(1, 800);
  if (chance(0.4)) {
    DomainOverride ov;
    ov.match = "vm" + std::to_string(pick(0, guests - 1));
    if (chance(0.6)) {
      ov.settings.min_mib = cfg.guardrails.guest_min_unused_mib + pick(0, 2048);
    }
    if (chance(0.6)) {
      ov.settings.max_mib = ov.settings.min_mib.value_or(0) + pick(0, 4096);
    }
    if (chance(0.2)) ov.settings.managed = false;
    if (chance(0.3)) ov.settings.shares = pick(0, 3000);
    cfg.domains.overrides.push_back(ov);
  }
  return c;
}

GuardrailParams RailsFor(const Case& c) {
  Config cfg = c.config;
  cfg.interval_s = c.scenario.interval_s;
  GuardrailParams r;
  r.guest_min_unused_kib = MibToKib(static_cast<double>(cfg.guardrails.guest_min_unused_mib));
  r.host_min_free_kib = MibToKib(static_cast<double>(cfg.guardrails.host_min_free_mib));
  r.max_release_fraction = cfg.guardrails.max_release_fraction;
  r.stale_after_s = cfg.stale_after_s();
  if (c.scenario.guest_budget_mib) {
    r.guest_budget_kib = MibToKib(static_cast<double>(*c.scenario.guest_budget_mib));
  }
  return r;
}

// Checks one tick; returns the problems found.
std::vector<std::string> CheckTick(const TickReport& r, const GuardrailParams& rails) {
  std::vector<std::string> bad;
  if (!r.sample_status.ok()) {
    bad.push_back("sample failed: " + r.sample_status.ToString());
    return bad;
  }
  for (const std::string& v : Violations(r.applied, r.snapshot, rails)) {
    bad.push_back(v);
  }
  for (const Action& a : r.applied.actions) {
    const std::string who = "domain " + a.domain + ": ";
    const GuestSample* g = r.snapshot.Find(a.domain);
    if (g == nullptr) {
      bad.push_back(who + "applied action for a guest not sampled");
      continue;
    }
    if (a.from_kib != g->actual_kib) bad.push_back(who + "from is not actual");
    if (a.target_kib == g->actual_kib) bad.push_back(who + "empty action");
    if (a.grow() && a.target_kib > g->ceiling_kib()) {
      bad.push_back(who + "grows to " + std::to_string(a.target_kib) +
                    " KiB, above the ceiling " + std::to_string(g->ceiling_kib()));
    }
    if (!a.grow() && a.target_kib < g->limits.floor_kib) {
      bad.push_back(who + "shrinks to " + std::to_string(a.target_kib) +
                    " KiB, below the floor " + std::to_string(g->limits.floor_kib));
    }
    const Action* p = r.proposed.Find(a.domain);
    if (p == nullptr) {
      bad.push_back(who + "guardrails invented an action");
    } else if ((p->target_kib > g->actual_kib) != a.grow()) {
      bad.push_back(who + "guardrails reversed the direction");
    } else if (std::llabs(a.delta_kib()) > std::llabs(p->target_kib - g->actual_kib)) {
      bad.push_back(who + "guardrails enlarged the action");
    }
  }
  for (const ActionResult& res : r.results) {
    if (!res.status.ok()) {
      bad.push_back("domain " + res.action.domain + ": the simulator refused " +
                    std::to_string(res.action.target_kib) + " KiB: " +
                    res.status.ToString());
    }
  }
  return bad;
}

TEST(PropertyTest, EveryTickOfRandomScenariosKeepsGuardrails) {
  const uint32_t seed = EnvU32("MEMCOORD_PROPERTY_SEED", kDefaultSeed);
  const char* only = std::getenv("MEMCOORD_PROPERTY_CASE");
  const int cases = static_cast<int>(EnvU32("MEMCOORD_PROPERTY_CASES", kDefaultCases));
  const int first = only ? std::atoi(only) : 0;
  const int last = only ? first + 1 : cases;

  const auto t0 = std::chrono::steady_clock::now();
  int runs = 0;
  int64_t ticks = 0;
  int64_t actions = 0;
  int64_t clamps = 0;
  int failures = 0;
  for (int k = first; k < last && failures < 5; ++k) {
    std::mt19937 rng(seed + static_cast<uint32_t>(k));
    const Case c = RandomCase(rng);
    const Status valid = ValidateScenario(c.scenario);
    ASSERT_TRUE(valid.ok()) << "generator made an invalid scenario (seed " << seed
                            << ", case " << k << "): " << valid.ToString() << "\n"
                            << Describe(c);
    const GuardrailParams rails = RailsFor(c);
    for (const std::string& policy : PolicyNames()) {
      std::vector<std::string> problems;
      RunOptions options;
      options.on_tick = [&](const TickReport& r, const SimHypervisor&) {
        ++ticks;
        actions += static_cast<int64_t>(r.applied.actions.size());
        clamps += r.clamps.total();
        if (problems.size() > 10) return;
        for (const std::string& p : CheckTick(r, rails)) {
          problems.push_back("t=" + std::to_string(r.time_s) + " " + p);
        }
      };
      Result<RunResult> result = RunScenario(c.scenario, policy, c.config, options);
      ++runs;
      ASSERT_TRUE(result.ok()) << "seed " << seed << " case " << k << " policy "
                               << policy << ": " << result.status().ToString();
      if (!problems.empty()) {
        ++failures;
        std::string all;
        for (const std::string& p : problems) all += "  " + p + "\n";
        ADD_FAILURE() << "seed " << seed << " case " << k << " policy " << policy
                      << " (rerun: MEMCOORD_PROPERTY_SEED=" << seed
                      << " MEMCOORD_PROPERTY_CASE=" << k << ")\n"
                      << all << Describe(c);
      }
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("property: seed %u, %d scenarios x %zu policies = %d runs, %lld ticks, "
              "%lld actions, %lld clamps, %.1f s\n",
              seed, last - first, PolicyNames().size(), runs,
              static_cast<long long>(ticks), static_cast<long long>(actions),
              static_cast<long long>(clamps), secs);
  if (!only) {
    // The generator must make the policies act, or the property says nothing.
    EXPECT_GT(actions, ticks / 20);
    EXPECT_GT(clamps, 0);
  }
}

// Same seed, same scenario: the generator is reproducible, so a printed seed
// is enough to rerun a failure.
TEST(PropertyTest, GeneratorIsReproducible) {
  std::mt19937 a(kDefaultSeed + 7);
  std::mt19937 b(kDefaultSeed + 7);
  EXPECT_EQ(Describe(RandomCase(a)), Describe(RandomCase(b)));
}

}  // namespace
}  // namespace memcoord
