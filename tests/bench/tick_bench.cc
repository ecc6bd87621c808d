// Cost of a whole tick on the simulator, and of the metrics it publishes, for
// 1,000 and 10,000 guests.
//
//   memcoord_tick_bench [--benchmark_filter=REGEX] [--benchmark_min_time=S]
//                       [--check-targets]
//   memcoord_tick_bench --write-scenario=N [--duration=S]   (YAML on stdout)
//
// BM_SimTick: SimHypervisor::Sample + adaptive Decide + guardrails +
// SetTarget + PrometheusMetrics::Record (metrics served on 127.0.0.1:0), the
// daemon's tick as main.cc wires it, with a NullLogger. The simulated guests'
// physics for the second between ticks (SimHypervisor::AdvanceTo) runs before
// the timed part: it is the model of the guests, not work the daemon does on
// a real host; it is reported apart as `sim_advance_ms`. The time of a tick
// is the benchmark thread's CPU time (cpu_timer.h; the tick runs on that one
// thread). Counters: `ns_per_guest`, `actions` per tick, and in wall time
// `wall_ms` (the whole tick), `controller_ms` (TickReport::duration_s: sample
// to last set) and `record_ms` (the rest: the metrics).
//
// The metrics benchmarks take the TickReport of the tick after 30 simulated
// seconds (so it carries actions, classes and counters), move it one second
// on per iteration, and measure through the public interface:
//   BM_MetricsRecord     PrometheusMetrics::Record of one tick (the tick
//                        thread's share of the metrics)
//   BM_MetricsSerialize  PrometheusMetrics::Serialize of a tick just
//                        recorded: the text of one scrape, which is what
//                        /metrics serves (the Record before it is not timed)
// HTTP scrape latency is memcoord_metrics_scrape_bench's.
//
// The scale scenario: host memory 896 MiB per guest; guests of 512 MiB
// (maximum 1536 MiB) in eight kinds by index: idle, allocate-and-exit,
// page-cache fillers, slow leaks, allocate-and-free cycles, bursts, cache plus
// allocation; one in 25 reports no balloon stats, one in ten has swap.
// Workloads start staggered over the first minute and repeat every 120 s.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cpu_timer.h"
#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/controller.h"
#include "memcoord/log.h"
#include "memcoord/prometheus_metrics.h"
#include "memcoord/scenario.h"
#include "memcoord/simulator.h"

namespace memcoord {
namespace {

constexpr double kPeriodS = 120;
constexpr double kBenchDurationS = 1800;
constexpr double kWarmupS = 30;
constexpr double kClockStartS = 1'700'000'000;

Scenario MakeScaleScenario(int guests, double duration_s) {
  using K = WorkloadOp::Kind;
  Scenario s;
  s.name = "scale-" + std::to_string(guests) + "-guests";
  s.duration_s = duration_s;
  s.interval_s = 1;
  s.host_total_mib = 896.0 * guests + 2048;
  s.host_used_mib = 1024;
  for (int i = 0; i < guests; ++i) {
    ScenarioGuest g;
    char name[32];
    std::snprintf(name, sizeof(name), "vm-%05d", i);
    g.name = name;
    g.max_mib = 1536;
    g.start_mib = 512;
    g.base_used_mib = 64;
    g.balloon_rate_mib_s = 200;
    g.swap_mib = i % 10 == 9 ? 256 : 0;
    g.stats = i % 25 != 7;
    const double offset = 1 + (i * 37) % 60;
    for (double t = offset; t + 100 < duration_s; t += kPeriodS) {
      switch (i % 8) {
        case 1:  // allocate, then the process exits
          g.workload.push_back(WorkloadOp{t, K::kAlloc, 600, 25});
          g.workload.push_back(WorkloadOp{t + 70, K::kFreeAll});
          break;
        case 2:  // page cache fills, then is dropped
          g.workload.push_back(WorkloadOp{t, K::kCache, 500, 50});
          g.workload.push_back(WorkloadOp{t + 80, K::kDropCache});
          break;
        case 3:  // slow leak
          g.workload.push_back(WorkloadOp{t, K::kAlloc, 150, 2});
          g.workload.push_back(WorkloadOp{t + 90, K::kFreeAll});
          break;
        case 4:  // allocate and free at the same pace
          g.workload.push_back(WorkloadOp{t, K::kAlloc, 350, 35});
          g.workload.push_back(WorkloadOp{t + 30, K::kFree, 350, 35});
          break;
        case 6:  // burst
          g.workload.push_back(WorkloadOp{t, K::kAlloc, 450, 150});
          g.workload.push_back(WorkloadOp{t + 20, K::kFreeAll});
          break;
        case 7:  // cache, then an allocation on top
          g.workload.push_back(WorkloadOp{t, K::kCache, 300, 30});
          g.workload.push_back(WorkloadOp{t + 10, K::kAlloc, 200, 20});
          g.workload.push_back(WorkloadOp{t + 60, K::kFreeAll});
          g.workload.push_back(WorkloadOp{t + 61, K::kDropCache});
          break;
        default:  // idle
          break;
      }
    }
    s.guests.push_back(std::move(g));
  }
  return s;
}

// The simulator takes only valid scenarios; a mistake here must not pass as
// a figure.
Scenario Checked(Scenario s) {
  Status v = ValidateScenario(s);
  if (!v.ok()) {
    std::fprintf(stderr, "scale scenario is invalid: %s\n", v.message().c_str());
    std::exit(2);
  }
  return s;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// The scenario as a file the loader takes: keys shared by every guest in
// `defaults`, one line per guest.
std::string ScenarioYaml(const Scenario& s) {
  std::string out;
  out += "# Generated by memcoord_tick_bench --write-scenario=" +
         std::to_string(s.guests.size()) + " --duration=" +
         Num(s.duration_s) + "\n";
  out += "name: " + s.name + "\nduration_s: " + Num(s.duration_s) +
         "\ninterval_s: " + Num(s.interval_s) + "\nhost: {total_mib: " +
         Num(s.host_total_mib) + ", host_used_mib: " + Num(s.host_used_mib) +
         "}\n";
  out +=
      "defaults: {max_mib: 1536, start_mib: 512, base_used_mib: 64, "
      "balloon_rate_mib_s: 200, swap_mib: 0, stats: true}\nguests:\n";
  for (const ScenarioGuest& g : s.guests) {
    out += "  - {name: " + g.name;
    if (g.swap_mib != 0) out += ", swap_mib: " + Num(g.swap_mib);
    if (!g.stats) out += ", stats: false";
    if (!g.workload.empty()) {
      out += ", workload: [";
      for (size_t k = 0; k < g.workload.size(); ++k) {
        const WorkloadOp& op = g.workload[k];
        if (k > 0) out += ", ";
        out += "{at_s: " + Num(op.at_s) + ", op: " +
               std::string(OpName(op.kind));
        if (op.kind == WorkloadOp::Kind::kAlloc ||
            op.kind == WorkloadOp::Kind::kFree ||
            op.kind == WorkloadOp::Kind::kCache) {
          out += ", mib: " + Num(op.mib) + ", rate_mib_s: " + Num(op.rate_mib_s);
        }
        out += "}";
      }
      out += "]";
    }
    out += "}\n";
  }
  return out;
}

using Steady = std::chrono::steady_clock;

// A metrics endpoint on an ephemeral loopback port, ticking every second.
Result<std::unique_ptr<PrometheusMetrics>> StartLoopbackMetrics(
    const Clock* clock) {
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.interval_s = 1;
  return PrometheusMetrics::Start(options, clock);
}

// The daemon's parts around a simulator, on a manual clock.
class SimDaemon {
 public:
  SimDaemon(int guests, bool with_metrics)
      : clock_(kClockStartS),
        sim_(Checked(MakeScaleScenario(guests, kBenchDurationS)), &clock_,
             kClockStartS) {
    if (with_metrics) {
      auto started = StartLoopbackMetrics(&clock_);
      if (!started.ok()) {
        error_ = started.status().message();
        return;
      }
      metrics_ = std::move(started.value());
      metrics_->SetBuildInfo("bench", "unknown", "adaptive");
    }
    controller_ = std::make_unique<Controller>(&sim_, &clock_, &logger_,
                                               metrics_.get());
    Config config;
    config.connect = "sim:bench";
    config.policy = "adaptive";
    config.interval_s = 1;
    // config.web is not the controller's: the metrics above serve on their
    // own options.
    Status s = controller_->Configure(config);
    if (!s.ok()) error_ = s.message();
  }

  const std::string& error() const { return error_; }
  bool near_end() const {
    return sim_.scenario_time_s() + 2 > kBenchDurationS;
  }
  PrometheusMetrics* metrics() { return metrics_.get(); }

  // Moves the guests one interval on; returns the CPU seconds that took.
  double Advance() {
    clock_.Advance(1);
    return bench::TimeCpu(
        [&] { sim_.AdvanceTo(clock_.NowSeconds() - kClockStartS); });
  }
  TickReport Tick() { return controller_->Tick(); }

  void WarmUp() {
    while (sim_.scenario_time_s() < kWarmupS) {
      Advance();
      Tick();
    }
  }

 private:
  ManualClock clock_;
  SimHypervisor sim_;
  NullLogger logger_;
  std::unique_ptr<PrometheusMetrics> metrics_;
  std::unique_ptr<Controller> controller_;
  std::string error_;
};

void BM_SimTick(benchmark::State& state) {
  const int guests = static_cast<int>(state.range(0));
  auto daemon = std::make_unique<SimDaemon>(guests, true);
  if (!daemon->error().empty()) {
    state.SkipWithError(daemon->error().c_str());
    return;
  }
  daemon->WarmUp();
  double total = 0, wall = 0, controller = 0, advance = 0;
  int64_t actions = 0;
  for (auto _ : state) {
    if (daemon->near_end()) {
      state.PauseTiming();
      daemon = std::make_unique<SimDaemon>(guests, true);
      daemon->WarmUp();
      state.ResumeTiming();
    }
    advance += daemon->Advance();
    TickReport report;
    const auto start = Steady::now();
    const double s = bench::TimeCpu([&] { report = daemon->Tick(); });
    wall += std::chrono::duration<double>(Steady::now() - start).count();
    state.SetIterationTime(s);
    total += s;
    controller += report.duration_s;
    actions += static_cast<int64_t>(report.results.size());
  }
  const double n = static_cast<double>(state.iterations());
  if (n == 0) return;
  state.counters["guests"] = guests;
  state.counters["ns_per_guest"] = total / n / guests * 1e9;
  state.counters["wall_ms"] = wall / n * 1e3;
  state.counters["controller_ms"] = controller / n * 1e3;
  state.counters["record_ms"] = (wall - controller) / n * 1e3;
  state.counters["sim_advance_ms"] = advance / n * 1e3;
  state.counters["actions"] = static_cast<double>(actions) / n;
}

// A realistic report: the tick after the warm-up of the scale scenario.
TickReport ReportAfterWarmUp(int guests) {
  SimDaemon daemon(guests, false);
  daemon.WarmUp();
  daemon.Advance();
  return daemon.Tick();
}

const TickReport& CachedReport(int guests) {
  static std::map<int, TickReport> reports;
  auto it = reports.find(guests);
  if (it == reports.end()) {
    it = reports.emplace(guests, ReportAfterWarmUp(guests)).first;
  }
  return it->second;
}

HypervisorHealth SimHealth() {
  HypervisorHealth h;
  h.calls = {{"sample", 31}, {"set_target", 1200}};
  return h;
}

// The report of the next tick: one second later, so every series changes.
void NextTick(TickReport& r) {
  r.time_s += 1;
  r.snapshot.time_s += 1;
  for (GuestSample& g : r.snapshot.guests) {
    if (g.stats_time_s) *g.stats_time_s += 1;
    if (g.swap_in_kib) *g.swap_in_kib += 4;
  }
}

void BM_MetricsRecord(benchmark::State& state) {
  const int guests = static_cast<int>(state.range(0));
  TickReport report = CachedReport(guests);
  ManualClock clock(report.time_s);
  auto metrics = StartLoopbackMetrics(&clock);
  if (!metrics.ok()) {
    state.SkipWithError(metrics.status().message().c_str());
    return;
  }
  const HypervisorHealth health = SimHealth();
  for (auto _ : state) {
    state.PauseTiming();
    NextTick(report);
    clock.Set(report.time_s);
    state.ResumeTiming();
    (*metrics)->Record(report, health);
  }
}

void BM_MetricsSerialize(benchmark::State& state) {
  const int guests = static_cast<int>(state.range(0));
  TickReport report = CachedReport(guests);
  ManualClock clock(report.time_s);
  auto metrics = StartLoopbackMetrics(&clock);
  if (!metrics.ok()) {
    state.SkipWithError(metrics.status().message().c_str());
    return;
  }
  const HypervisorHealth health = SimHealth();
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    NextTick(report);
    clock.Set(report.time_s);
    (*metrics)->Record(report, health);
    state.ResumeTiming();
    std::string text = (*metrics)->Serialize();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

BENCHMARK(BM_SimTick)
    ->ArgName("guests")
    ->Arg(1000)
    ->Arg(10000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MetricsRecord)->ArgName("guests")->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MetricsSerialize)->ArgName("guests")->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMillisecond);

// Forwards to the console and keeps the figures the targets need.
class TargetReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      // Manual time is already the thread's CPU time; otherwise take the CPU
      // column, so that other work on the machine does not count.
      std::string name = r.benchmark_name();
      const size_t manual = name.find("/manual_time");
      const double t = manual != std::string::npos ? r.GetAdjustedRealTime()
                                                   : r.GetAdjustedCPUTime();
      const double ms = t *
                        benchmark::GetTimeUnitMultiplier(benchmark::kMillisecond) /
                        benchmark::GetTimeUnitMultiplier(r.time_unit);
      name = name.substr(0, manual);
      ms_[name] = ms;
      auto per_guest = r.counters.find("ns_per_guest");
      if (per_guest != r.counters.end()) ns_per_guest_[name] = per_guest->second;
    }
  }

  bool PrintTargets() const {
    bool ok = true;
    std::printf("\nTargets\n");
    auto line = [&](const char* what, const std::string& name, double limit) {
      auto it = ms_.find(name);
      if (it == ms_.end()) return;
      const bool met = it->second < limit;
      ok = ok && met;
      std::printf("  %-44s %8.3f ms (target < %g ms) %s\n", what, it->second,
                  limit, met ? "met" : "MISSED");
    };
    line("whole simulated tick, 1000 guests:", "BM_SimTick/guests:1000", 5);
    line("serialising a scrape (Serialize), 1000 guests:",
         "BM_MetricsSerialize/guests:1000", 30);
    // Flat: a quadratic step makes the cost per guest 10x from 1,000 to
    // 10,000 guests; data outgrowing the caches costs a small factor.
    auto a = ns_per_guest_.find("BM_SimTick/guests:1000");
    auto b = ns_per_guest_.find("BM_SimTick/guests:10000");
    if (a != ns_per_guest_.end() && b != ns_per_guest_.end()) {
      const double ratio = b->second / a->second;
      const bool met = ratio < 3;
      ok = ok && met;
      std::printf(
          "  tick ns/guest 1000 -> %.0f, 10000 -> %.0f; ratio %.2f "
          "(target flat, < 3; quadratic ~10) %s\n",
          a->second, b->second, ratio, met ? "met" : "MISSED");
    }
    return ok;
  }

 private:
  std::map<std::string, double> ms_;
  std::map<std::string, double> ns_per_guest_;
};

}  // namespace
}  // namespace memcoord

int main(int argc, char** argv) {
  bool check = false;
  int write_guests = 0;
  double duration_s = 240;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--check-targets") {
      check = true;
    } else if (a.rfind("--write-scenario=", 0) == 0) {
      write_guests = std::atoi(a.c_str() + std::strlen("--write-scenario="));
    } else if (a.rfind("--duration=", 0) == 0) {
      duration_s = std::atof(a.c_str() + std::strlen("--duration="));
    } else {
      args.push_back(argv[i]);
    }
  }
  if (write_guests > 0) {
    if (duration_s < 1) {
      std::fprintf(stderr, "--duration must be at least 1 second\n");
      return 2;
    }
    const std::string yaml = memcoord::ScenarioYaml(
        memcoord::Checked(memcoord::MakeScaleScenario(write_guests, duration_s)));
    std::fwrite(yaml.data(), 1, yaml.size(), stdout);
    return 0;
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  memcoord::TargetReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  const bool ok = reporter.PrintTargets();
  return check && !ok ? 1 : 0;
}
