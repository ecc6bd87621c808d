// `promtool check metrics` on a real scrape of a populated endpoint
// (README "Metrics"). MEMCOORD_PROMTOOL is the path CMake found, or empty.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "http_client.h"
#include "memcoord/prometheus_metrics.h"
#include "test_report.h"

namespace memcoord {
namespace {

using testing::Guest;
using testing::GuestWithoutStats;
using testing::MakeAction;
using testing::Report;

TEST(PromtoolTest, ScrapePassesPromtoolCheckMetrics) {
  const std::string promtool = MEMCOORD_PROMTOOL;
  if (promtool.empty()) GTEST_SKIP() << "promtool not found at configure time";

  ManualClock clock(1000);
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  (*m)->SetBuildInfo("0.1.0", "0123456789ab", "adaptive");

  // Every family populated: actions both ways, an error, a clamp, a guest
  // without stats, counters after a guest reboot.
  for (int t = 0; t < 3; ++t) {
    TickReport r = Report(1000 + t);
    GuestSample a = Guest("web-1", 1024, 1000 + t);
    a.swap_in_kib = t == 2 ? 10 : 100 * t;
    a.major_faults = 5 * t;
    r.snapshot.guests.push_back(a);
    r.snapshot.guests.push_back(Guest("db \"primary\"", 4096, 999 + t));
    r.snapshot.guests.push_back(GuestWithoutStats("new", 512));
    Action grow = MakeAction("web-1", 1024, 1324, Reason::kStarved);
    Action shrink = MakeAction("db \"primary\"", 4096, 3796, Reason::kReclaim);
    r.applied.actions = {grow, shrink};
    r.results.push_back({grow, Status::Ok(), true});
    r.results.push_back({shrink, Status::Unavailable("x"), false});
    r.classes["web-1"] = GuestClass::kStarved;
    r.classes["db \"primary\""] = GuestClass::kWasteful;
    r.clamps[Rule::kMaxRelease] = 1;
    HypervisorHealth h;
    h.calls["virConnectGetAllDomainStats"] = t + 1;
    (*m)->Record(r, h);
  }

  testing::HttpResponse resp =
      testing::HttpGet((*m)->ListeningPorts().at(0), "/metrics");
  ASSERT_EQ(resp.status, 200) << resp.error;
  const std::string file =
      (std::filesystem::temp_directory_path() /
       ("memcoord-scrape-" + std::to_string(getpid()) + ".txt"))
          .string();
  std::ofstream(file) << resp.body;
  FILE* pipe =
      popen((promtool + " check metrics < " + file + " 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int rc = pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace memcoord
