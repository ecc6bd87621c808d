// The endpoint against real ticks: the controller drives the simulator and
// records into PrometheusMetrics, and each scrape must match the tick's
// report.
#include <gtest/gtest.h>

#include <set>

#include "exposition.h"
#include "http_client.h"
#include "memcoord/controller.h"
#include "memcoord/log.h"
#include "memcoord/prometheus_metrics.h"
#include "memcoord/simulator.h"

namespace memcoord {
namespace {

Scenario ThreeGuests() {
  Scenario s;
  s.name = "metrics-three-guests";
  s.duration_s = 30;
  s.interval_s = 1;
  s.host_total_mib = 6144;
  s.host_used_mib = 512;
  ScenarioGuest busy;
  busy.name = "busy";
  busy.start_mib = 512;
  busy.workload.push_back(
      {/*at_s=*/1, WorkloadOp::Kind::kAlloc, /*mib=*/600, /*rate=*/100, true});
  ScenarioGuest idle;
  idle.name = "idle";
  idle.start_mib = 1536;
  ScenarioGuest doomed;
  doomed.name = "doomed";
  doomed.workload.push_back(
      {/*at_s=*/5, WorkloadOp::Kind::kDestroy, 0, 0, true});
  s.guests = {busy, idle, doomed};
  return s;
}

std::set<std::string> DomainsOf(const testing::ParsedExposition& p,
                                const std::string& name) {
  std::set<std::string> out;
  for (const testing::Sample& s : p.Samples(name)) {
    out.insert(s.labels.at("domain"));
  }
  return out;
}

TEST(SimTickTest, EveryScrapeMatchesTheLastTickAndDestroyedGuestsVanish) {
  ManualClock clock(1'700'000'000);
  SimHypervisor sim(ThreeGuests(), &clock, clock.NowSeconds());
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.interval_s = 1;
  auto metrics = PrometheusMetrics::Start(options, &clock);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  const int port = (*metrics)->ListeningPorts().at(0);
  NullLogger logger;
  Controller controller(&sim, &clock, &logger, metrics->get());
  Config config;
  config.policy = "seed";
  config.interval_s = 1;
  ASSERT_TRUE(controller.Configure(config).ok());

  bool saw_doomed = false;
  for (int tick = 0; tick < 10; ++tick) {
    clock.Advance(1);
    TickReport report = controller.Tick();
    ASSERT_TRUE(report.sample_status.ok()) << report.sample_status.ToString();

    testing::HttpResponse r = testing::HttpGet(port, "/metrics");
    ASSERT_EQ(r.status, 200) << r.error;
    testing::ParsedExposition p = testing::ParsedExposition::Parse(r.body);
    ASSERT_TRUE(p.errors().empty());

    std::set<std::string> expected;
    for (const GuestSample& g : report.snapshot.guests) {
      expected.insert(g.name);
      const testing::Labels d = {{"domain", g.name}};
      EXPECT_EQ(p.Value("memcoord_domain_actual_bytes", d),
                static_cast<double>(g.actual_kib) * 1024)
          << g.name << " tick " << tick;
      EXPECT_EQ(p.Value("memcoord_domain_maximum_bytes", d),
                static_cast<double>(g.maximum_kib) * 1024);
      if (g.unused_kib) {
        EXPECT_EQ(p.Value("memcoord_domain_unused_bytes", d),
                  static_cast<double>(*g.unused_kib) * 1024);
      }
      const Action* a = report.applied.Find(g.name);
      const int64_t target =
          a ? a->target_kib : g.target_kib.value_or(g.actual_kib);
      EXPECT_EQ(p.Value("memcoord_domain_target_bytes", d),
                static_cast<double>(target) * 1024);
    }
    saw_doomed = saw_doomed || expected.count("doomed") > 0;
    EXPECT_EQ(DomainsOf(p, "memcoord_domain_actual_bytes"), expected);
    EXPECT_EQ(DomainsOf(p, "memcoord_balloon_errors_total"), expected);
    EXPECT_EQ(p.Value("memcoord_ticks_total"), tick + 1);
    EXPECT_EQ(p.Value("memcoord_host_memory_free_bytes"),
              static_cast<double>(report.snapshot.host.free_kib) * 1024);
    if (tick >= 6) {
      EXPECT_TRUE(p.SamplesOfDomain("doomed").empty()) << "tick " << tick;
    }
  }
  EXPECT_TRUE(saw_doomed);
}

}  // namespace
}  // namespace memcoord
