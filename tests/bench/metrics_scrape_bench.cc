// Scrape latency of /metrics with many guests (targets: with 1,000 guests,
// p99 under 50 ms, and a scrape of a live daemon under 30 ms).
//
//   memcoord_metrics_scrape_bench [--guests N] [--scrapes N] [--tick-ms MS]
//                                 [--max-p99-ms MS]
//
// Measurements, each over --scrapes samples, printed as percentiles:
//   record   Record() of one tick, on the tick thread: counters and the
//            snapshot of plain values, no rendering
//   cold     GET /metrics right after a new tick: the scrape renders the text
//            (the usual case: ticks are at least as frequent as scrapes)
//   warm     GET /metrics of a tick that was already rendered
//   paced    GET /metrics at random moments while another thread records a
//            tick every --tick-ms (default 100): what a Prometheus whose
//            scrapes are not in step with the ticks sees; most scrapes find
//            the text the background renderer made after the tick
//   busy     scrapes while another thread records ticks back to back, each
//            tick replacing the one being rendered (the worst case)
// With --max-p99-ms, exits 1 when the cold, paced or busy p99 is above it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "memcoord/prometheus_metrics.h"

namespace memcoord {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Percentiles {
  double p50, p90, p99, max;
};

Percentiles Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  return {at(0.50), at(0.90), at(0.99), v.back()};
}

void Print(const char* what, const std::vector<double>& ms) {
  Percentiles p = Summarise(ms);
  std::printf(
      "%-7s n=%-4zu p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
      what, ms.size(), p.p50, p.p90, p.p99, p.max);
}

TickReport MakeTick(int guests, int tick) {
  TickReport r;
  r.time_s = 1'700'000'000 + tick;
  r.duration_s = 0.004;
  r.sample_status = Status::Ok();
  r.policy = "adaptive";
  r.snapshot.time_s = r.time_s;
  r.snapshot.host.total_kib = MibToKib(1024 * 1024);
  r.snapshot.host.free_kib = MibToKib(200 * 1024);
  r.snapshot.host.available_kib = MibToKib(300 * 1024);
  for (int i = 0; i < guests; ++i) {
    GuestSample g;
    g.name = "guest-" + std::to_string(i);
    g.actual_kib = MibToKib(1024 + (i + tick) % 512);
    g.maximum_kib = MibToKib(4096);
    g.rss_kib = g.actual_kib + 4096;
    g.unused_kib = MibToKib(100 + (i * 7 + tick) % 400);
    g.usable_kib = *g.unused_kib + MibToKib(50);
    g.memtotal_kib = g.actual_kib;
    g.swap_in_kib = static_cast<int64_t>(tick) * i;
    g.swap_out_kib = static_cast<int64_t>(tick) * i * 2;
    g.major_faults = tick + i;
    g.stats_time_s = r.time_s - 0.5;
    r.snapshot.guests.push_back(g);
    r.classes[g.name] = static_cast<GuestClass>(i % 4);
    if (i % 3 == 0) {
      Action a;
      a.domain = g.name;
      a.from_kib = g.actual_kib;
      a.target_kib = g.actual_kib + (i % 2 ? MibToKib(64) : -MibToKib(64));
      a.reason = i % 2 ? Reason::kStarved : Reason::kReclaim;
      r.applied.actions.push_back(a);
      r.results.push_back({a, Status::Ok(), true});
    }
  }
  return r;
}

int Main(int argc, char** argv) {
  int guests = 1000;
  int scrapes = 200;
  double max_p99_ms = 0;
  int tick_ms = 100;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (std::strcmp(argv[i], "--guests") == 0) {
      guests = std::atoi(next());
    } else if (std::strcmp(argv[i], "--scrapes") == 0) {
      scrapes = std::atoi(next());
    } else if (std::strcmp(argv[i], "--tick-ms") == 0) {
      tick_ms = std::atoi(next());
    } else if (std::strcmp(argv[i], "--max-p99-ms") == 0) {
      max_p99_ms = std::atof(next());
    } else {
      std::fprintf(stderr,
                   "usage: %s [--guests N] [--scrapes N] [--tick-ms MS] "
                   "[--max-p99-ms MS]\n",
                   argv[0]);
      return 2;
    }
  }
  if (guests < 1 || scrapes < 1 || tick_ms < 1) {
    std::fprintf(stderr,
                 "--guests, --scrapes and --tick-ms must be positive\n");
    return 2;
  }

  SystemClock clock;
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  auto started = PrometheusMetrics::Start(options, &clock);
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
    return 1;
  }
  PrometheusMetrics& metrics = **started;
  metrics.SetBuildInfo("bench", "unknown", "adaptive");
  const int port = metrics.ListeningPorts().at(0);
  HypervisorHealth health;
  health.calls["virConnectGetAllDomainStats"] = 1;

  // Ticks are built beforehand: only Record() and the scrape are timed.
  std::vector<TickReport> ticks;
  for (int t = 0; t < 8; ++t) ticks.push_back(MakeTick(guests, t));

  std::vector<double> record_ms, cold_ms, warm_ms, paced_ms, busy_ms;
  size_t bytes = 0;
  bool failed = false;
  auto scrape = [&](std::vector<double>& out) {
    const auto t0 = Clock::now();
    testing::HttpResponse r = testing::HttpGet(port, "/metrics");
    out.push_back(Ms(Clock::now() - t0));
    if (r.status != 200) failed = true;
    bytes = r.body.size();
  };

  for (int i = 0; i < scrapes; ++i) {
    const auto t0 = Clock::now();
    metrics.Record(ticks[i % ticks.size()], health);
    record_ms.push_back(Ms(Clock::now() - t0));
    scrape(cold_ms);
    scrape(warm_ms);
  }

  {
    // A tick every tick_ms; scrapes at uniformly random moments, on average
    // two per tick, so every phase relative to the tick is sampled.
    std::atomic<bool> stop{false};
    std::thread ticker([&] {
      auto next_tick = Clock::now();
      for (size_t i = 0; !stop.load(); ++i) {
        metrics.Record(ticks[i % ticks.size()], health);
        next_tick += std::chrono::milliseconds(tick_ms);
        std::this_thread::sleep_until(next_tick);
      }
    });
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> pause_us(0, tick_ms * 1000);
    for (int i = 0; i < scrapes; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
      scrape(paced_ms);
    }
    stop = true;
    ticker.join();
  }

  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    for (size_t i = 0; !stop.load(); ++i) {
      metrics.Record(ticks[i % ticks.size()], health);
    }
  });
  for (int i = 0; i < scrapes; ++i) scrape(busy_ms);
  stop = true;
  ticker.join();

  const std::string text = metrics.Serialize();
  std::printf("guests %d, response %zu bytes, %zu lines per scrape\n", guests,
              bytes,
              static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
  Print("record", record_ms);
  Print("cold", cold_ms);
  Print("warm", warm_ms);
  Print("paced", paced_ms);
  Print("busy", busy_ms);
  if (failed) {
    std::fprintf(stderr, "some scrapes failed\n");
    return 1;
  }
  if (max_p99_ms > 0) {
    const double worst =
        std::max({Summarise(cold_ms).p99, Summarise(paced_ms).p99,
                  Summarise(busy_ms).p99});
    if (worst > max_p99_ms) {
      std::printf("FAIL: scrape p99 %.2f ms > %.2f ms\n", worst, max_p99_ms);
      return 1;
    }
    std::printf("ok: scrape p99 %.2f ms <= %.2f ms\n", worst, max_p99_ms);
  }
  return 0;
}

}  // namespace
}  // namespace memcoord

int main(int argc, char** argv) { return memcoord::Main(argc, argv); }
