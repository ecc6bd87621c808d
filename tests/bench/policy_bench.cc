// Cost of one policy decision, and of the guardrails, from 10 to 10,000
// guests.
//
//   memcoord_policy_bench [--benchmark_filter=REGEX] [--benchmark_min_time=S]
//
// Every policy decides on realistic snapshots: a mix of starved, busy,
// growing, idle and wasteful guests, one in 25 without balloon stats, some
// with a balloon still moving toward an earlier target. The guests' memory
// follows a 16-tick cycle and the clock moves one interval per decision, so
// policies with a history (mom's 10-sample window, adaptive's trends) see
// moving series; they are warmed with 12 snapshots before timing starts.
//
// Reported per run: time per decision, `ns_per_guest` (time per decision /
// guests) and `actions` (actions per decision). Only the decision is timed;
// moving the clock forward is not. Time is the benchmark thread's CPU time
// (cpu_timer.h), so that other work on a shared machine does not count.
// After the runs the targets are printed: adaptive under 5 ms for 10,000 guests, and cost per guest flat
// from 100 to 10,000 guests (every policy, and the guardrails): under 4x,
// where a quadratic step would be 100x.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpu_timer.h"
#include "memcoord/guardrails.h"
#include "memcoord/model.h"
#include "memcoord/policy.h"

namespace memcoord {
namespace {

constexpr int kCycleTicks = 16;
constexpr int kWarmupTicks = 12;
constexpr double kIntervalS = 2;
constexpr double kStartS = 1'700'000'000;

// Deterministic per-guest variety without a random generator.
uint32_t Mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Guest i at tick `tick` of the cycle. Kinds, by share of guests:
//   idle 30 %: steady, 350-950 MiB unused (wasteful)
//   ok 25 %: 150-350 MiB unused
//   growing 20 %: demand rises 24 MiB per tick, drops back each cycle
//   starved 10 %: 40-140 MiB unused, some swapping
//   cache 11 %: little unused, much reclaimable (usable >> unused)
//   no stats 4 %: one in 25 guests
GuestSample MakeGuest(int i, int tick, double now_s) {
  const uint32_t h = Mix(static_cast<uint32_t>(i) * 2654435761U + 17);
  const int phase = (tick + static_cast<int>(h % kCycleTicks)) % kCycleTicks;
  GuestSample g;
  char name[32];
  std::snprintf(name, sizeof(name), "vm-%05d", i);
  g.name = name;
  g.maximum_kib = MibToKib(4096);
  const int64_t actual_mib = 1024 + static_cast<int64_t>(h % 8) * 128;
  g.actual_kib = MibToKib(static_cast<double>(actual_mib));
  g.rss_kib = g.actual_kib + MibToKib(40);
  if (i % 25 == 7) return g;  // no balloon stats

  const uint32_t kind = (h >> 8) % 100;
  int64_t unused_mib;
  int64_t cache_mib = 20 + static_cast<int64_t>((h >> 4) % 60);
  int64_t swap_in = 0;
  int64_t faults = 1000 + static_cast<int64_t>(h % 500);
  if (kind < 30) {
    unused_mib = 350 + static_cast<int64_t>((h >> 12) % 600);
  } else if (kind < 55) {
    unused_mib = 150 + static_cast<int64_t>((h >> 12) % 200);
  } else if (kind < 75) {
    unused_mib = std::max<int64_t>(500 - 24 * phase, 30);
  } else if (kind < 85) {
    unused_mib = 40 + static_cast<int64_t>((h >> 12) % 100);
    if (kind % 2 == 0) {
      swap_in = 4096 * tick;  // swapping: swap-in grows every tick
      faults += 50 * tick;
    }
  } else {
    unused_mib = 60 + static_cast<int64_t>((h >> 12) % 60);
    cache_mib = 400 + static_cast<int64_t>((h >> 12) % 300);
  }
  unused_mib = std::min(unused_mib, actual_mib - 100);
  g.unused_kib = MibToKib(static_cast<double>(unused_mib));
  g.usable_kib = MibToKib(static_cast<double>(unused_mib + cache_mib));
  g.memtotal_kib = g.actual_kib;
  g.swap_in_kib = swap_in;
  g.swap_out_kib = swap_in * 2;
  g.major_faults = faults;
  g.minor_faults = faults * 40;
  g.stats_time_s = now_s - 0.4;
  // One guest in eight still has its balloon moving toward a larger target.
  if (h % 8 == 3) g.target_kib = g.actual_kib + MibToKib(256);
  return g;
}

// A host with room for some growth but not for every need, so policies share.
Snapshot MakeSnapshot(int guests, int tick) {
  Snapshot s;
  s.time_s = kStartS + kIntervalS * tick;
  int64_t sum_actual = 0;
  s.guests.reserve(guests);
  for (int i = 0; i < guests; ++i) {
    s.guests.push_back(MakeGuest(i, tick, s.time_s));
    sum_actual += s.guests.back().actual_kib;
  }
  const int64_t spare = MibToKib(64.0 * guests) + MibToKib(512);
  s.host.total_kib = sum_actual + MibToKib(2048) + spare;
  s.host.free_kib = spare - MibToKib(8.0 * (tick % 4) * guests / 10);
  s.host.buffers_kib = MibToKib(64);
  s.host.cached_kib = MibToKib(512);
  s.host.available_kib =
      s.host.free_kib + s.host.buffers_kib + s.host.cached_kib;
  return s;
}

// One cycle of snapshots. Next() hands out a fresh copy of the next one with
// the clock moved on, as Sample() would: policies always see time going
// forward, and the snapshot is as warm in the caches as a just-sampled one.
class SnapshotCycle {
 public:
  explicit SnapshotCycle(int guests) {
    for (int t = 0; t < kCycleTicks; ++t) cycle_.push_back(MakeSnapshot(guests, t));
  }
  Snapshot Next() {
    Snapshot s = cycle_[tick_ % kCycleTicks];
    s.time_s = kStartS + kIntervalS * static_cast<double>(tick_);
    for (GuestSample& g : s.guests) {
      if (g.stats_time_s) g.stats_time_s = s.time_s - 0.4;
    }
    ++tick_;
    return s;
  }

 private:
  std::vector<Snapshot> cycle_;
  int64_t tick_ = 0;
};

using bench::TimeCpu;

void SetPerGuest(benchmark::State& state, double total_ns, int guests,
                 int64_t actions) {
  const double decisions = static_cast<double>(state.iterations());
  if (decisions == 0) return;
  state.counters["ns_per_guest"] = total_ns / decisions / guests;
  state.counters["actions"] = static_cast<double>(actions) / decisions;
  state.counters["guests"] = guests;
}

void BM_Decide(benchmark::State& state, const std::string& policy_name) {
  const int guests = static_cast<int>(state.range(0));
  PolicyParams params;
  params.interval_s = kIntervalS;
  auto made = MakePolicy(policy_name, params);
  if (!made.ok()) {
    state.SkipWithError(made.status().message().c_str());
    return;
  }
  std::unique_ptr<Policy> policy = std::move(made.value());
  SnapshotCycle cycle(guests);
  for (int i = 0; i < kWarmupTicks; ++i) policy->Decide(cycle.Next());

  double total_ns = 0;
  int64_t actions = 0;
  for (auto _ : state) {
    const Snapshot snap = cycle.Next();
    Plan plan;
    const double s = TimeCpu([&] { plan = policy->Decide(snap); });
    benchmark::DoNotOptimize(plan);
    state.SetIterationTime(s);
    total_ns += s * 1e9;
    actions += static_cast<int64_t>(plan.actions.size());
  }
  SetPerGuest(state, total_ns, guests, actions);
}

// Guardrails over the plan the adaptive policy made, which acts on many
// guests at once: the step where a lookup per action would turn quadratic.
void BM_Enforce(benchmark::State& state) {
  const int guests = static_cast<int>(state.range(0));
  PolicyParams params;
  params.interval_s = kIntervalS;
  std::unique_ptr<Policy> policy =
      std::move(MakePolicy("adaptive", params).value());
  SnapshotCycle cycle(guests);
  for (int i = 0; i < kWarmupTicks; ++i) policy->Decide(cycle.Next());
  // Plans for a whole cycle, made once; each is enforced on its snapshot.
  std::vector<std::pair<Snapshot, Plan>> plans;
  for (int i = 0; i < kCycleTicks; ++i) {
    Snapshot s = cycle.Next();
    Plan p = policy->Decide(s);
    plans.emplace_back(std::move(s), std::move(p));
  }
  GuardrailParams rails;
  rails.stale_after_s = 3 * kIntervalS;

  double total_ns = 0;
  int64_t actions = 0;
  size_t k = 0;
  for (auto _ : state) {
    const auto& [snap, plan] = plans[k++ % plans.size()];
    GuardedPlan out;
    const double s = TimeCpu([&] { out = Enforce(plan, snap, rails); });
    benchmark::DoNotOptimize(out);
    state.SetIterationTime(s);
    total_ns += s * 1e9;
    actions += static_cast<int64_t>(plan.actions.size());
  }
  SetPerGuest(state, total_ns, guests, actions);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int n : {10, 100, 1000, 10000}) b->Arg(n);
  b->ArgName("guests")->UseManualTime()->Unit(benchmark::kMicrosecond);
}

void RegisterAll() {
  for (const std::string& name : PolicyNames()) {
    benchmark::RegisterBenchmark(("BM_Decide/" + name).c_str(), BM_Decide, name)
        ->Apply(Sizes);
  }
  benchmark::RegisterBenchmark("BM_Enforce/adaptive_plan", BM_Enforce)
      ->Apply(Sizes);
}

// Forwards to the console and keeps every run for the target summary.
class TargetReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      auto it = r.counters.find("ns_per_guest");
      auto guests = r.counters.find("guests");
      if (it == r.counters.end() || guests == r.counters.end()) continue;
      // "BM_Decide/adaptive/guests:1000/manual_time" -> "BM_Decide/adaptive"
      std::string family = r.benchmark_name();
      family = family.substr(0, family.find("/guests:"));
      per_guest_[family][static_cast<int>(guests->second.value)] =
          it->second.value;
    }
  }

  // Prints the targets; returns false when one that was measured is missed.
  bool PrintTargets() const {
    bool ok = true;
    std::printf("\nTargets\n");
    auto adaptive = per_guest_.find("BM_Decide/adaptive");
    if (adaptive != per_guest_.end() && adaptive->second.count(10000)) {
      const double ms = adaptive->second.at(10000) * 10000 / 1e6;
      const bool met = ms < 5;
      ok = ok && met;
      std::printf("  adaptive decision, 10000 guests: %.3f ms (target < 5 ms) %s\n",
                  ms, met ? "met" : "MISSED");
    }
    // Flat: no quadratic step. A quadratic step makes the cost per guest
    // 100x at 10,000 guests what it is at 100; a linear one whose data
    // outgrows the CPU caches (a snapshot of 10,000 guests is ~4 MB) pays a
    // small constant factor. Flat here: under 4x over the two decades.
    for (const auto& [family, by_n] : per_guest_) {
      if (!by_n.count(100) || !by_n.count(10000)) continue;
      const double ratio = by_n.at(10000) / by_n.at(100);
      const bool met = ratio < 4.0;
      ok = ok && met;
      std::printf(
          "  %-28s ns/guest: 100 -> %.1f, 1000 -> %.1f, 10000 -> %.1f; "
          "10000/100 = %.2f (target flat, < 4; quadratic ~100) %s\n",
          family.c_str(), by_n.at(100),
          by_n.count(1000) ? by_n.at(1000) : 0.0, by_n.at(10000), ratio,
          met ? "met" : "MISSED");
    }
    return ok;
  }

 private:
  std::map<std::string, std::map<int, double>> per_guest_;
};

}  // namespace
}  // namespace memcoord

// --check-targets: exit 1 when a measured target is missed (not used in CTest,
// whose machines are shared and noisy).
int main(int argc, char** argv) {
  bool check = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--check-targets") {
      check = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  memcoord::RegisterAll();
  memcoord::TargetReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  const bool ok = reporter.PrintTargets();
  return check && !ok ? 1 : 0;
}
