#include "memcoord/prometheus_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include "exposition.h"
#include "gunzip.h"
#include "http_client.h"
#include "test_report.h"

namespace memcoord {
namespace {

using testing::FailedReport;
using testing::Guest;
using testing::Gunzip;
using testing::GuestWithoutStats;
using testing::HttpGet;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::kMib;
using testing::MakeAction;
using testing::ParsedExposition;
using testing::Report;

struct Server {
  std::unique_ptr<PrometheusMetrics> metrics;
  int port = 0;

  ParsedExposition Scrape() const {
    HttpResponse r = HttpGet(port, "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    ParsedExposition p = ParsedExposition::Parse(r.body);
    EXPECT_TRUE(p.errors().empty()) << p.errors().front();
    return p;
  }
};

Server StartLocal(const Clock* clock, MetricsOptions options = {}) {
  options.listen = "127.0.0.1:0";
  Result<std::unique_ptr<PrometheusMetrics>> m =
      PrometheusMetrics::Start(options, clock);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  Server s;
  if (!m.ok()) return s;
  s.metrics = std::move(m).value();
  std::vector<int> ports = s.metrics->ListeningPorts();
  EXPECT_EQ(ports.size(), 1u);
  if (!ports.empty()) s.port = ports[0];
  return s;
}

HypervisorHealth Healthy() {
  HypervisorHealth h;
  h.up = true;
  h.reconnects = 2;
  h.calls["virConnectGetAllDomainStats"] = 7;
  h.calls["virDomainSetMemoryFlags"] = 3;
  return h;
}

TEST(MetricsTest, BindsAnEphemeralLoopbackPort) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  ASSERT_NE(s.metrics, nullptr);
  EXPECT_GT(s.port, 0);
  EXPECT_NE(s.port, 9741);
}

TEST(MetricsTest, ExportsGuestGaugesInBytes) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.snapshot.guests.push_back(Guest("vm1", 1024, 98.5));
  r.snapshot.guests.push_back(GuestWithoutStats("vm2", 512));
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  const testing::Labels vm1 = {{"domain", "vm1"}};
  EXPECT_EQ(p.Value("memcoord_domain_actual_bytes", vm1), 1024 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_maximum_bytes", vm1), 4096 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_unused_bytes", vm1), 512 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_usable_bytes", vm1), 612 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_memtotal_bytes", vm1), 974 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_rss_bytes", vm1), 1034 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_target_bytes", vm1), 1024 * kMib);
  EXPECT_DOUBLE_EQ(*p.Value("memcoord_domain_stats_age_seconds", vm1), 1.5);

  // A statistic the guest did not report has no series at all, never a zero.
  const testing::Labels vm2 = {{"domain", "vm2"}};
  EXPECT_EQ(p.Value("memcoord_domain_actual_bytes", vm2), 512 * kMib);
  EXPECT_FALSE(p.Value("memcoord_domain_unused_bytes", vm2).has_value());
  EXPECT_FALSE(p.Value("memcoord_domain_stats_age_seconds", vm2).has_value());
  EXPECT_FALSE(p.Value("memcoord_domain_rss_bytes", vm2).has_value());

  for (const char* name :
       {"memcoord_domain_actual_bytes", "memcoord_domain_maximum_bytes",
        "memcoord_domain_unused_bytes", "memcoord_domain_usable_bytes",
        "memcoord_domain_memtotal_bytes", "memcoord_domain_rss_bytes",
        "memcoord_domain_target_bytes", "memcoord_domain_stats_age_seconds",
        "memcoord_domain_class"}) {
    EXPECT_EQ(p.Type(name), "gauge") << name;
    EXPECT_FALSE(p.Help(name).empty()) << name;
  }
}

TEST(MetricsTest, TargetIsThePlannedTargetEvenInDryRun) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.dry_run = true;
  r.snapshot.guests.push_back(Guest("planned", 1024, 100));
  GuestSample known = Guest("known", 1024, 100);
  known.target_kib = MibToKib(900);
  r.snapshot.guests.push_back(known);
  r.snapshot.guests.push_back(Guest("idle", 1024, 100));
  Action a = MakeAction("planned", 1024, 1324, Reason::kStarved);
  r.applied.actions.push_back(a);
  r.results.push_back({a, Status::Ok(), /*sent=*/false});
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_domain_target_bytes", {{"domain", "planned"}}),
            1324 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_target_bytes", {{"domain", "known"}}),
            900 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_target_bytes", {{"domain", "idle"}}),
            1024 * kMib);
  EXPECT_EQ(p.Value("memcoord_dry_run"), 1);
}

TEST(MetricsTest, ClassIsOneForTheCurrentClassOnly) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.snapshot.guests.push_back(Guest("hungry", 1024, 100));
  r.snapshot.guests.push_back(Guest("fat", 1024, 100));
  r.snapshot.guests.push_back(GuestWithoutStats("blind", 512));
  r.classes["hungry"] = GuestClass::kStarved;
  r.classes["fat"] = GuestClass::kWasteful;
  // "blind" has no entry: it is unknown.
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  auto cls = [&](const std::string& d, const std::string& c) {
    return p.Value("memcoord_domain_class", {{"domain", d}, {"class", c}});
  };
  EXPECT_EQ(cls("hungry", "starved"), 1);
  EXPECT_EQ(cls("hungry", "ok"), 0);
  EXPECT_EQ(cls("hungry", "wasteful"), 0);
  EXPECT_EQ(cls("hungry", "unknown"), 0);
  EXPECT_EQ(cls("fat", "wasteful"), 1);
  EXPECT_EQ(cls("fat", "starved"), 0);
  EXPECT_EQ(cls("blind", "unknown"), 1);
  EXPECT_EQ(cls("blind", "ok"), 0);
  EXPECT_EQ(p.Samples("memcoord_domain_class").size(), 12u);
}

TEST(MetricsTest, ExportsHostMemoryAndThresholds) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.params.starvation_kib = MibToKib(150);
  r.params.waste_kib = MibToKib(300);
  r.params.guest_min_unused_kib = MibToKib(100);
  r.params.host_min_free_kib = MibToKib(200);
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_host_memory_total_bytes"), 16384 * kMib);
  EXPECT_EQ(p.Value("memcoord_host_memory_free_bytes"), 8192 * kMib);
  EXPECT_EQ(p.Value("memcoord_host_memory_available_bytes"), 10240 * kMib);
  EXPECT_EQ(p.Value("memcoord_threshold_bytes", {{"name", "starvation"}}),
            150 * kMib);
  EXPECT_EQ(p.Value("memcoord_threshold_bytes", {{"name", "waste"}}),
            300 * kMib);
  EXPECT_EQ(p.Value("memcoord_threshold_bytes", {{"name", "guest_min_unused"}}),
            100 * kMib);
  EXPECT_EQ(p.Value("memcoord_threshold_bytes", {{"name", "host_min_free"}}),
            200 * kMib);
  EXPECT_EQ(p.Type("memcoord_host_memory_free_bytes"), "gauge");
}

TEST(MetricsTest, CountsSentActionsByDirectionReasonAndBytes) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  for (int tick = 0; tick < 2; ++tick) {
    TickReport r = Report(100 + tick);
    r.snapshot.guests.push_back(Guest("a", 1024, 100 + tick));
    r.snapshot.guests.push_back(Guest("b", 2048, 100 + tick));
    r.snapshot.guests.push_back(Guest("c", 1024, 100 + tick));
    Action grow = MakeAction("a", 1024, 1324, Reason::kStarved);
    Action shrink = MakeAction("b", 2048, 1748, Reason::kReclaim);
    Action failed = MakeAction("c", 1024, 1124, Reason::kPredicted);
    r.applied.actions = {grow, shrink, failed};
    r.results.push_back({grow, Status::Ok(), true});
    r.results.push_back({shrink, Status::Ok(), true});
    r.results.push_back({failed, Status::Unavailable("gone"), false});
    s.metrics->Record(r, Healthy());
  }

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(
      p.Value("memcoord_balloon_actions_total",
              {{"domain", "a"}, {"direction", "grow"}, {"reason", "starved"}}),
      2);
  EXPECT_EQ(p.Value("memcoord_balloon_actions_total", {{"domain", "b"},
                                                       {"direction", "shrink"},
                                                       {"reason", "reclaim"}}),
            2);
  // A failed set is an error, not an action.
  EXPECT_FALSE(
      p.Value("memcoord_balloon_actions_total",
              {{"domain", "c"}, {"direction", "grow"}, {"reason", "predicted"}})
          .has_value());
  EXPECT_EQ(p.Value("memcoord_balloon_errors_total", {{"domain", "c"}}), 2);
  EXPECT_EQ(p.Value("memcoord_balloon_errors_total", {{"domain", "a"}}), 0);
  EXPECT_EQ(p.Value("memcoord_balloon_moved_bytes_total",
                    {{"domain", "a"}, {"direction", "grow"}}),
            600 * kMib);
  EXPECT_EQ(p.Value("memcoord_balloon_moved_bytes_total",
                    {{"domain", "a"}, {"direction", "shrink"}}),
            0);
  EXPECT_EQ(p.Value("memcoord_balloon_moved_bytes_total",
                    {{"domain", "b"}, {"direction", "shrink"}}),
            600 * kMib);
  EXPECT_EQ(p.Type("memcoord_balloon_actions_total"), "counter");
  EXPECT_EQ(p.Type("memcoord_balloon_moved_bytes_total"), "counter");
  EXPECT_EQ(p.Type("memcoord_balloon_errors_total"), "counter");
}

TEST(MetricsTest, PlannedActionsHaveTheirOwnCounter) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  Action grow = MakeAction("a", 1024, 1124, Reason::kStarved);

  TickReport dry = Report(100);
  dry.dry_run = true;
  dry.snapshot.guests.push_back(Guest("a", 1024, 100));
  dry.applied.actions = {grow};
  dry.results.push_back({grow, Status::Ok(), false});
  s.metrics->Record(dry, Healthy());
  const testing::Labels key = {
      {"domain", "a"}, {"direction", "grow"}, {"reason", "starved"}};
  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_balloon_planned_actions_total", key), 1);
  EXPECT_EQ(p.Value("memcoord_balloon_actions_total", key), std::nullopt);
  EXPECT_EQ(p.Value("memcoord_balloon_moved_bytes_total",
                    {{"domain", "a"}, {"direction", "grow"}}),
            0);

  TickReport live = dry;
  live.time_s = 101;
  live.dry_run = false;  // an unsent action outside dry-run did not happen
  s.metrics->Record(live, Healthy());
  live.time_s = 102;
  live.results[0].sent = true;
  s.metrics->Record(live, Healthy());
  p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_balloon_planned_actions_total", key), 1);
  EXPECT_EQ(p.Value("memcoord_balloon_actions_total", key), 1);
  EXPECT_EQ(p.Value("memcoord_dry_run"), 0);
}

TEST(MetricsTest, AccumulatesGuardrailClampsByRule) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.clamps[Rule::kGuestMinUnused] = 2;
  r.clamps[Rule::kHostMinFree] = 1;
  r.clamps[Rule::kAutodeflate] = 5;
  s.metrics->Record(r, Healthy());
  r.time_s = 101;
  r.clamps[Rule::kHostMinFree] = 3;
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Type("memcoord_guardrail_clamps_total"), "counter");
  EXPECT_EQ(p.Value("memcoord_guardrail_clamps_total",
                    {{"rule", std::string(RuleName(Rule::kGuestMinUnused))}}),
            4);
  EXPECT_EQ(p.Value("memcoord_guardrail_clamps_total",
                    {{"rule", std::string(RuleName(Rule::kHostMinFree))}}),
            4);
  EXPECT_EQ(p.Value("memcoord_guardrail_clamps_total",
                    {{"rule", std::string(RuleName(Rule::kBudget))}}),
            0);
  EXPECT_EQ(p.Value("memcoord_guardrail_clamps_total", {{"rule", "autodeflate"}}),
            10);
  EXPECT_EQ(p.Samples("memcoord_guardrail_clamps_total").size(),
            static_cast<size_t>(kRuleCount));
}

TEST(MetricsTest, ExportsLoopAndHypervisorMetrics) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  s.metrics->SetBuildInfo("1.2.3", "abcdef012345", "adaptive");
  TickReport r = Report(100);
  r.duration_s = 0.004;
  r.policy = "";  // no policy in the report: the one from SetBuildInfo stays
  s.metrics->Record(r, Healthy());
  r.time_s = 102;
  r.duration_s = 0.2;
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_ticks_total"), 2);
  EXPECT_EQ(p.Type("memcoord_ticks_total"), "counter");
  EXPECT_DOUBLE_EQ(*p.Value("memcoord_last_tick_timestamp_seconds"), 102.2);
  EXPECT_EQ(p.Type("memcoord_tick_duration_seconds"), "histogram");
  EXPECT_EQ(p.Value("memcoord_tick_duration_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(*p.Value("memcoord_tick_duration_seconds_sum"), 0.204);
  EXPECT_EQ(
      p.Value("memcoord_tick_duration_seconds_bucket", {{"le", "0.001"}}), 0);
  EXPECT_EQ(
      p.Value("memcoord_tick_duration_seconds_bucket", {{"le", "0.005"}}), 1);
  EXPECT_EQ(p.Value("memcoord_tick_duration_seconds_bucket", {{"le", "0.25"}}),
            2);
  EXPECT_EQ(p.Value("memcoord_tick_duration_seconds_bucket", {{"le", "10"}}),
            2);
  EXPECT_EQ(p.Value("memcoord_tick_duration_seconds_bucket", {{"le", "+Inf"}}),
            2);
  EXPECT_EQ(p.Value("memcoord_libvirt_up"), 1);
  EXPECT_EQ(p.Value("memcoord_libvirt_reconnects_total"), 2);
  EXPECT_EQ(p.Value("memcoord_libvirt_calls_total",
                    {{"call", "virConnectGetAllDomainStats"}}),
            7);
  EXPECT_EQ(p.Value("memcoord_libvirt_calls_total",
                    {{"call", "virDomainSetMemoryFlags"}}),
            3);
  EXPECT_EQ(p.Value("memcoord_dry_run"), 0);
  EXPECT_EQ(p.Value("memcoord_build_info",
                    {{"version", "1.2.3"}, {"revision", "abcdef012345"}}),
            1);
  EXPECT_EQ(p.Value("memcoord_policy_info", {{"policy", "adaptive"}}), 1);
  EXPECT_EQ(p.Value("memcoord_config_reload_success"), 1);
  EXPECT_EQ(p.Value("memcoord_config_reloads_total", {{"result", "applied"}}),
            0);
  EXPECT_EQ(p.Value("memcoord_config_reloads_total", {{"result", "refused"}}),
            0);
  EXPECT_EQ(p.Value("memcoord_sample_errors_total"), 0);

  HypervisorHealth down = Healthy();
  down.up = false;
  r.policy = "mom";
  s.metrics->Record(r, down);
  s.metrics->SetConfigReloadSuccess(false);
  p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_libvirt_up"), 0);
  EXPECT_EQ(p.Value("memcoord_config_reload_success"), 0);
  EXPECT_EQ(p.Value("memcoord_config_reloads_total", {{"result", "refused"}}),
            1);
  // A good reload after a good one changes no gauge but counts.
  s.metrics->SetConfigReloadSuccess(true);
  s.metrics->SetConfigReloadSuccess(true);
  EXPECT_EQ(s.Scrape().Value("memcoord_config_reloads_total",
                             {{"result", "applied"}}),
            2);
  // The policy follows the policy in force; still a single series, and
  // build_info does not move.
  EXPECT_EQ(p.Value("memcoord_policy_info", {{"policy", "mom"}}), 1);
  EXPECT_EQ(p.Samples("memcoord_policy_info").size(), 1u);
  EXPECT_EQ(p.Value("memcoord_build_info",
                    {{"version", "1.2.3"}, {"revision", "abcdef012345"}}),
            1);
}

TEST(MetricsTest, ExportsTheTimeOfHypervisorCallsAsAHistogramByCall) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  HypervisorHealth h = Healthy();
  CallDurations& stats = h.call_durations["virConnectGetAllDomainStats"];
  for (double seconds : {0.00005, 0.0003, 0.0003, 0.02, 30.0}) {
    stats.Observe(seconds);
  }
  h.call_durations["virDomainSetMemoryFlags"].Observe(0.004);
  s.metrics->Record(Report(100), h);

  ParsedExposition p = s.Scrape();
  const std::string name = "memcoord_libvirt_call_duration_seconds";
  EXPECT_EQ(p.Type(name), "histogram");
  EXPECT_FALSE(p.Help(name).empty());
  auto bucket = [&](const std::string& call, const std::string& le) {
    return p.Value(name + "_bucket", {{"call", call}, {"le", le}});
  };
  const std::string stats_call = "virConnectGetAllDomainStats";
  EXPECT_EQ(bucket(stats_call, "0.0001"), 1);
  EXPECT_EQ(bucket(stats_call, "0.00025"), 1);
  EXPECT_EQ(bucket(stats_call, "0.0005"), 3);
  EXPECT_EQ(bucket(stats_call, "0.025"), 4);
  EXPECT_EQ(bucket(stats_call, "10"), 4);
  // Slower than the last bound: only in +Inf and the count.
  EXPECT_EQ(bucket(stats_call, "+Inf"), 5);
  EXPECT_EQ(p.Value(name + "_count", {{"call", stats_call}}), 5);
  EXPECT_NEAR(*p.Value(name + "_sum", {{"call", stats_call}}), 30.02065, 1e-9);
  EXPECT_EQ(bucket("virDomainSetMemoryFlags", "0.0025"), 0);
  EXPECT_EQ(bucket("virDomainSetMemoryFlags", "0.005"), 1);
  EXPECT_EQ(p.Value(name + "_count", {{"call", "virDomainSetMemoryFlags"}}), 1);
  // One series per call, with buckets from 100 us to 10 s and +Inf.
  EXPECT_EQ(p.Samples(name + "_bucket").size(),
            2 * (CallDurations::kBuckets.size() + 1));
}

TEST(MetricsTest, LastActionIsTheLatestSentCommandOfEachGuest) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  const std::string name = "memcoord_domain_last_action_timestamp_seconds";
  auto tick = [&](double time_s, std::vector<ActionResult> results,
                  bool dry_run = false) {
    TickReport r = Report(time_s);
    r.dry_run = dry_run;
    r.snapshot.guests.push_back(Guest("a", 1024, time_s));
    r.snapshot.guests.push_back(Guest("b", 2048, time_s));
    r.snapshot.guests.push_back(Guest("idle", 1024, time_s));
    for (const ActionResult& res : results) {
      r.applied.actions.push_back(res.action);
    }
    r.results = std::move(results);
    s.metrics->Record(r, Healthy());
  };
  const Action grow_a = MakeAction("a", 1024, 1324, Reason::kStarved);
  const Action shrink_a = MakeAction("a", 1024, 824, Reason::kReclaim);
  const Action grow_b = MakeAction("b", 2048, 2148, Reason::kPredicted);
  tick(100, {{grow_a, Status::Ok(), true}, {grow_b, Status::Ok(), true}});
  tick(102, {{shrink_a, Status::Ok(), true},
             {grow_b, Status::Unavailable("gone"), false}});

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Type(name), "gauge");
  EXPECT_FALSE(p.Help(name).empty());
  // One series per guest: its latest command replaces the one before.
  EXPECT_EQ(p.Value(name, {{"domain", "a"},
                           {"direction", "shrink"},
                           {"reason", "reclaim"}}),
            102);
  EXPECT_EQ(
      p.Value(name,
              {{"domain", "a"}, {"direction", "grow"}, {"reason", "starved"}}),
      std::nullopt);
  // A failed command is not an action: b keeps its last sent one.
  EXPECT_EQ(p.Value(name, {{"domain", "b"},
                           {"direction", "grow"},
                           {"reason", "predicted"}}),
            100);
  EXPECT_EQ(p.Samples(name).size(), 2u);  // idle has had no action

  // A command planned in dry-run was not sent: nothing changes.
  tick(104, {{grow_a, Status::Ok(), false}}, /*dry_run=*/true);
  p = s.Scrape();
  EXPECT_EQ(p.Value(name, {{"domain", "a"},
                           {"direction", "shrink"},
                           {"reason", "reclaim"}}),
            102);
  EXPECT_EQ(p.Samples(name).size(), 2u);
}

TEST(MetricsTest, RemovesSeriesOfVanishedGuest) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.snapshot.guests.push_back(Guest("stays", 1024, 100));
  GuestSample goner = Guest("goner", 1024, 100);
  goner.swap_in_kib = 4096;
  r.snapshot.guests.push_back(goner);
  Action a = MakeAction("goner", 1024, 1124, Reason::kStarved);
  r.applied.actions = {a};
  r.results.push_back({a, Status::Ok(), true});
  r.classes["goner"] = GuestClass::kStarved;
  s.metrics->Record(r, Healthy());
  ASSERT_GT(s.Scrape().SamplesOfDomain("goner").size(), 15u);

  TickReport next = Report(101);
  next.snapshot.guests.push_back(Guest("stays", 1024, 101));
  s.metrics->Record(next, Healthy());
  ParsedExposition p = s.Scrape();
  EXPECT_TRUE(p.SamplesOfDomain("goner").empty());
  EXPECT_FALSE(p.SamplesOfDomain("stays").empty());
  // The families themselves stay, for the remaining guest.
  EXPECT_EQ(p.Type("memcoord_domain_swap_in_bytes_total"), "counter");
}

TEST(MetricsTest, MatchesGuestsByNameWhateverTheirOrderEachTick) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  // The same three guests in a different order each tick, one duplicated
  // (the first entry counts), then one replaced by a new guest: every value
  // must follow its name, and the series stay sorted by name.
  const std::vector<std::vector<std::string>> orders = {
      {"b", "a", "c"}, {"c", "b", "a"}, {"a", "a", "c", "b"}, {"c", "d", "a"}};
  for (size_t t = 0; t < orders.size(); ++t) {
    TickReport r = Report(100 + t);
    int64_t seen_a = 0;
    for (const std::string& name : orders[t]) {
      // Size by name and tick; a duplicate carries a different size.
      int64_t mib = (name[0] - 'a' + 1) * 1000 + static_cast<int64_t>(t);
      if (name == "a" && seen_a++ > 0) mib += 7;
      GuestSample g = Guest(name, mib, 100 + t);
      g.swap_in_kib = (name[0] - 'a' + 1) * 10 * static_cast<int64_t>(t + 1);
      r.snapshot.guests.push_back(g);
    }
    r.classes["a"] = GuestClass::kStarved;
    r.classes["c"] = GuestClass::kWasteful;
    Action grow = MakeAction("c", 3000, 3500, Reason::kStarved);
    r.applied.actions = {grow};
    r.results.push_back({grow, Status::Ok(), true});
    s.metrics->Record(r, Healthy());

    ParsedExposition p = s.Scrape();
    std::vector<std::string> expected = orders[t];
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()),
                   expected.end());
    std::vector<std::string> names;
    for (const testing::Sample& sample :
         p.Samples("memcoord_domain_actual_bytes")) {
      names.push_back(sample.labels.at("domain"));
      const int64_t mib =
          (names.back()[0] - 'a' + 1) * 1000 + static_cast<int64_t>(t);
      EXPECT_EQ(sample.value, mib * kMib)
          << "tick " << t << " " << names.back();
      EXPECT_EQ(p.Value("memcoord_domain_swap_in_bytes_total",
                        {{"domain", names.back()}}),
                (names.back()[0] - 'a' + 1) * 10.0 * (t + 1) * 1024)
          << "tick " << t << " " << names.back();
    }
    EXPECT_EQ(names, expected) << "tick " << t;
    EXPECT_EQ(p.Value("memcoord_domain_class",
                      {{"domain", "a"}, {"class", "starved"}}),
              1);
    EXPECT_EQ(p.Value("memcoord_domain_class",
                      {{"domain", "c"}, {"class", "wasteful"}}),
              1);
    EXPECT_EQ(p.Value("memcoord_domain_class",
                      {{"domain", orders[t][0] == "c" ? "a" : "c"},
                       {"class", "unknown"}}),
              0);
    EXPECT_EQ(p.Value("memcoord_domain_target_bytes", {{"domain", "c"}}),
              3500 * kMib);
    EXPECT_EQ(p.Value("memcoord_domain_target_bytes", {{"domain", "a"}}),
              (1000 + static_cast<double>(t)) * kMib);
    EXPECT_EQ(
        p.Value(
            "memcoord_balloon_actions_total",
            {{"direction", "grow"}, {"domain", "c"}, {"reason", "starved"}}),
        static_cast<double>(t + 1));
  }
  // "b" left at the last tick: no series; "d" is new.
  ParsedExposition p = s.Scrape();
  EXPECT_TRUE(p.SamplesOfDomain("b").empty());
  EXPECT_FALSE(p.SamplesOfDomain("d").empty());
}

// A tick of one guest "vm" with `mib` MiB, at time t.
TickReport OneGuestTick(double t, int64_t mib) {
  TickReport r = Report(t);
  r.snapshot.guests.push_back(Guest("vm", mib, t));
  return r;
}

TEST(MetricsTest, ScrapersThatAcceptGzipGetTheSameTextGzipped) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  s.metrics->Record(OneGuestTick(100, 1024), Healthy());
  const HttpResponse plain = HttpGet(s.port, "/metrics");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
  EXPECT_EQ(plain.headers.at("vary"), "Accept-Encoding");

  // What Prometheus sends.
  const HttpResponse z =
      HttpGet(s.port, "/metrics", {"Accept-Encoding: gzip"});
  ASSERT_EQ(z.status, 200);
  EXPECT_EQ(z.headers.at("content-encoding"), "gzip");
  EXPECT_EQ(z.headers.at("vary"), "Accept-Encoding");
  EXPECT_EQ(z.headers.at("content-length"), std::to_string(z.body.size()));
  EXPECT_LT(z.body.size(), plain.body.size());
  EXPECT_EQ(Gunzip(z.body), plain.body);

  // Refused gzip, and HEAD, as the same text would be sent.
  EXPECT_EQ(HttpGet(s.port, "/metrics", {"Accept-Encoding: gzip;q=0"}).body,
            plain.body);
  const HttpResponse head = HttpRequest(
      s.port, "HEAD", "/metrics", {"Accept-Encoding: gzip"});
  EXPECT_EQ(head.headers.at("content-length"), std::to_string(z.body.size()));
  EXPECT_TRUE(head.body.empty());

  // A new tick is compressed anew.
  s.metrics->Record(OneGuestTick(101, 2048), Healthy());
  EXPECT_EQ(Gunzip(HttpGet(s.port, "/metrics", {"Accept-Encoding: gzip"}).body),
            HttpGet(s.port, "/metrics").body);
}

TEST(MetricsTest, EveryScrapeOfATickServesTheSameTextAndANewTickANewOne) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  s.metrics->Record(OneGuestTick(100, 1024), Healthy());
  const std::string first = s.metrics->Serialize();
  EXPECT_EQ(HttpGet(s.port, "/metrics").body, first);
  EXPECT_EQ(HttpGet(s.port, "/metrics").body, first);
  s.metrics->Record(OneGuestTick(101, 2048), Healthy());
  const std::string second = HttpGet(s.port, "/metrics").body;
  EXPECT_NE(second, first);
  EXPECT_EQ(ParsedExposition::Parse(second).Value(
                "memcoord_domain_actual_bytes", {{"domain", "vm"}}),
            2048 * kMib);
  EXPECT_EQ(s.metrics->Serialize(), second);
}

// Waits up to 10 s for the render count to reach `want`.
bool WaitForRenders(const PrometheusMetrics& m, uint64_t want) {
  for (int i = 0; i < 1000 && m.RenderCount() < want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return m.RenderCount() >= want;
}

TEST(MetricsTest, RendersEachTickOnceAndAheadOfScrapesOnceScraped) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  // Nobody has scraped: ticks are not rendered.
  s.metrics->Record(OneGuestTick(100, 1024), Healthy());
  s.metrics->Record(OneGuestTick(101, 1024), Healthy());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(s.metrics->RenderCount(), 0u);

  // The first scrape renders its tick; the next scrape of it does not.
  EXPECT_EQ(HttpGet(s.port, "/metrics").status, 200);
  EXPECT_EQ(s.metrics->RenderCount(), 1u);
  EXPECT_EQ(HttpGet(s.port, "/metrics").status, 200);
  EXPECT_EQ(s.metrics->RenderCount(), 1u);

  // From now on each tick is rendered in the background, without a scrape,
  // and the scrape that follows serves that text without rendering again.
  s.metrics->Record(OneGuestTick(102, 2048), Healthy());
  ASSERT_TRUE(WaitForRenders(*s.metrics, 2));
  const HttpResponse after = HttpGet(s.port, "/metrics");
  EXPECT_EQ(s.metrics->RenderCount(), 2u);
  EXPECT_EQ(ParsedExposition::Parse(after.body).Value(
                "memcoord_domain_actual_bytes", {{"domain", "vm"}}),
            2048 * kMib);
}

TEST(MetricsTest, GuestCountersStayMonotonicAcrossGuestReboot) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  auto record = [&](double t, int64_t swap_in_kib, int64_t faults) {
    TickReport r = Report(t);
    GuestSample g = Guest("vm", 1024, t);
    g.swap_in_kib = swap_in_kib;
    g.swap_out_kib = swap_in_kib * 2;
    g.major_faults = faults;
    g.minor_faults = faults * 10;
    r.snapshot.guests.push_back(g);
    s.metrics->Record(r, Healthy());
    return s.Scrape();
  };
  const testing::Labels vm = {{"domain", "vm"}};

  ParsedExposition p = record(100, 1000, 50);
  EXPECT_EQ(p.Value("memcoord_domain_swap_in_bytes_total", vm), 1000 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_swap_out_bytes_total", vm), 2000 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_major_faults_total", vm), 50);
  EXPECT_EQ(p.Type("memcoord_domain_swap_in_bytes_total"), "counter");
  EXPECT_EQ(p.Type("memcoord_domain_swap_out_bytes_total"), "counter");
  EXPECT_EQ(p.Type("memcoord_domain_major_faults_total"), "counter");
  EXPECT_EQ(p.Value("memcoord_domain_minor_faults_total", vm), 500);
  EXPECT_EQ(p.Type("memcoord_domain_minor_faults_total"), "counter");

  p = record(101, 1500, 70);
  EXPECT_EQ(p.Value("memcoord_domain_swap_in_bytes_total", vm), 1500 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_major_faults_total", vm), 70);

  // The guest rebooted: its counters start again from zero.
  p = record(102, 200, 5);
  EXPECT_EQ(p.Value("memcoord_domain_swap_in_bytes_total", vm), 1700 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_swap_out_bytes_total", vm), 3400 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_major_faults_total", vm), 75);
  EXPECT_EQ(p.Value("memcoord_domain_minor_faults_total", vm), 750);

  p = record(103, 300, 5);
  EXPECT_EQ(p.Value("memcoord_domain_swap_in_bytes_total", vm), 1800 * 1024.0);
  EXPECT_EQ(p.Value("memcoord_domain_major_faults_total", vm), 75);
}

TEST(MetricsTest, ExportsDomainInfoLimitsAndBalloonDevice) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  GuestSample vm1 = Guest("vm1", 1024, 99);
  vm1.uuid = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0";
  vm1.limits.floor_kib = MibToKib(512);
  vm1.limits.max_kib = MibToKib(2048);
  vm1.limits.shares = 2000;
  vm1.disk_caches_kib = MibToKib(100);
  vm1.balloon.autodeflate = true;
  vm1.balloon.free_page_reporting = false;
  vm1.balloon.stats_period_s = 5;
  GuestSample vm2 = GuestWithoutStats("vm2", 512);
  vm2.limits.managed = false;
  vm2.balloon.autodeflate = false;
  r.snapshot.guests = {vm1, vm2};
  s.metrics->Record(r, Healthy());

  ParsedExposition p = s.Scrape();
  const testing::Labels one = {{"domain", "vm1"}};
  const testing::Labels two = {{"domain", "vm2"}};
  EXPECT_EQ(p.Type("memcoord_domain_info"), "gauge");
  EXPECT_EQ(p.Value("memcoord_domain_info",
                    {{"domain", "vm1"},
                     {"managed", "true"},
                     {"uuid", "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"}}),
            1);
  EXPECT_EQ(p.Value("memcoord_domain_info",
                    {{"domain", "vm2"}, {"managed", "false"}, {"uuid", ""}}),
            1);
  EXPECT_EQ(p.Samples("memcoord_domain_info").size(), 2u);
  EXPECT_EQ(p.Value("memcoord_domain_floor_bytes", one), 512 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_ceiling_bytes", one), 2048 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_shares", one), 2000);
  // vm2 has the defaults: 256 MiB floor, its libvirt maximum, 1000 shares.
  EXPECT_EQ(p.Value("memcoord_domain_floor_bytes", two), 256 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_ceiling_bytes", two), 4096 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_shares", two), 1000);
  EXPECT_EQ(p.Value("memcoord_domain_disk_caches_bytes", one), 100 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_stats_last_update_timestamp_seconds", one),
            99);
  EXPECT_EQ(p.Value("memcoord_domain_balloon_autodeflate", one), 1);
  EXPECT_EQ(p.Value("memcoord_domain_balloon_autodeflate", two), 0);
  EXPECT_EQ(p.Value("memcoord_domain_balloon_free_page_reporting", one), 0);
  EXPECT_EQ(p.Value("memcoord_domain_balloon_stats_period_seconds", one), 5);
  // What is unknown has no series.
  EXPECT_FALSE(p.Value("memcoord_domain_balloon_free_page_reporting", two));
  EXPECT_FALSE(p.Value("memcoord_domain_balloon_stats_period_seconds", two));
  EXPECT_FALSE(p.Value("memcoord_domain_disk_caches_bytes", two));
  EXPECT_FALSE(
      p.Value("memcoord_domain_stats_last_update_timestamp_seconds", two));
  EXPECT_FALSE(p.Value("memcoord_domain_minor_faults_total", two));
}

TEST(MetricsTest, KeepsLastGuestValuesWhenTheSampleFails) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.snapshot.guests.push_back(Guest("vm", 1024, 100));
  s.metrics->Record(r, Healthy());

  TickReport failed = FailedReport(104, "libvirtd restarted");
  HypervisorHealth down = Healthy();
  down.up = false;
  s.metrics->Record(failed, down);

  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_domain_actual_bytes", {{"domain", "vm"}}),
            1024 * kMib);
  EXPECT_EQ(p.Value("memcoord_domain_stats_age_seconds", {{"domain", "vm"}}),
            4);
  EXPECT_EQ(p.Value("memcoord_sample_errors_total"), 1);
  EXPECT_EQ(p.Value("memcoord_ticks_total"), 2);
  EXPECT_EQ(p.Value("memcoord_libvirt_up"), 0);
}

TEST(MetricsTest, AFailedSampleIsNotACycleEvenWhileConnected) {
  // Connected, but the sample fails every tick (a driver without node
  // memory stats): libvirt is not "up" and no tick has ended.
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.duration_s = 0.5;
  s.metrics->Record(r, Healthy());
  ASSERT_EQ(s.Scrape().Value("memcoord_last_tick_timestamp_seconds"), 100.5);

  TickReport failed = FailedReport(102, "no node memory stats");
  s.metrics->Record(failed, Healthy());
  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_libvirt_up"), 0);
  EXPECT_EQ(p.Value("memcoord_last_tick_timestamp_seconds"), 100.5);
  EXPECT_EQ(p.Value("memcoord_sample_errors_total"), 1);

  r.time_s = 104;
  s.metrics->Record(r, Healthy());
  p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_libvirt_up"), 1);
  EXPECT_EQ(p.Value("memcoord_last_tick_timestamp_seconds"), 104.5);
}

TEST(MetricsTest, ExportsTheProcessAndTheInterval) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.params.interval_s = 2.5;
  s.metrics->Record(r, Healthy());
  ParsedExposition p = s.Scrape();
  EXPECT_EQ(p.Value("memcoord_interval_seconds"), 2.5);
  // This test process's own figures, as procfs tells them.
  const auto rss = p.Value("process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 1 << 20);
  EXPECT_GE(*p.Value("process_virtual_memory_bytes"), *rss);
  const double now = static_cast<double>(std::time(nullptr));
  const auto start = p.Value("process_start_time_seconds");
  ASSERT_TRUE(start.has_value());
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 24 * 3600);
  EXPECT_GE(*p.Value("process_cpu_seconds_total"), 0);
  // The server's own sockets at least.
  EXPECT_GE(*p.Value("process_open_fds"), 3);
  if (auto max = p.Value("process_max_fds")) {
    EXPECT_GE(*max, *p.Value("process_open_fds"));
  }
}

TEST(MetricsTest, SerializeReturnsWhatTheEndpointServes) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  TickReport r = Report(100);
  r.snapshot.guests.push_back(Guest("vm", 1024, 100));
  s.metrics->Record(r, Healthy());
  HttpResponse resp = HttpGet(s.port, "/metrics");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, s.metrics->Serialize());
  EXPECT_EQ(resp.headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsTest, ScrapesNeverSeeHalfATick) {
  ManualClock clock(100);
  Server s = StartLocal(&clock);
  constexpr int kGuests = 50;
  constexpr int kTicks = 300;
  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::atomic<int> torn{0};
  std::thread scraper([&] {
    while (!done.load()) {
      HttpResponse resp = HttpGet(s.port, "/metrics");
      if (resp.status != 200) continue;
      ParsedExposition p = ParsedExposition::Parse(resp.body);
      auto actual = p.Samples("memcoord_domain_actual_bytes");
      auto ticks = p.Value("memcoord_ticks_total");
      // Every guest's size, and the tick count, come from the same tick.
      for (const testing::Sample& sample : actual) {
        if (!ticks || sample.value != (*ticks + 256) * kMib) ++torn;
      }
      ++scrapes;
    }
  });
  for (int t = 1; t <= kTicks; ++t) {
    TickReport r = Report(100 + t);
    for (int g = 0; g < kGuests; ++g) {
      r.snapshot.guests.push_back(
          Guest("vm" + std::to_string(g), 256 + t, 100 + t));
    }
    s.metrics->Record(r, Healthy());
    // Let the scraper get at least a few scrapes in across the run.
    if (t % 50 == 0) {
      const int before = scrapes.load();
      while (scrapes.load() == before) std::this_thread::yield();
    }
  }
  done = true;
  scraper.join();
  EXPECT_GE(scrapes.load(), 6);
  EXPECT_EQ(torn.load(), 0);
}

TEST(HealthzTest, OkWhileTicksAreFreshElse503) {
  ManualClock clock(1000);
  MetricsOptions options;
  options.interval_s = 2;
  Server s = StartLocal(&clock, options);

  // Before the first tick, the daemon gets three intervals to start.
  HttpResponse r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("starting"), std::string::npos) << r.body;
  clock.Advance(6.5);
  r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no tick"), std::string::npos) << r.body;

  s.metrics->Record(Report(clock.NowSeconds()), Healthy());
  r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok: last tick 0.0 s ago\n");

  clock.Advance(5.9);
  EXPECT_EQ(HttpGet(s.port, "/healthz").status, 200);
  clock.Advance(0.2);
  r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "unhealthy: last tick 6.1 s ago, more than 3 x 2.0 s "
            "interval\n");

  // A longer interval after a reload moves the limit.
  s.metrics->SetInterval(5);
  EXPECT_EQ(HttpGet(s.port, "/healthz").status, 200);
}

TEST(HealthzTest, TicksWhoseSampleFailsDoNotCount) {
  ManualClock clock(1000);
  MetricsOptions options;
  options.interval_s = 2;
  Server s = StartLocal(&clock, options);
  TickReport failed = FailedReport(0, "no node memory stats");

  // Failing from the start: every tick ran, none counts.
  for (int i = 0; i < 4; ++i) {
    clock.Advance(2);
    failed.time_s = clock.NowSeconds();
    s.metrics->Record(failed, Healthy());
  }
  HttpResponse r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "unhealthy: no tick in 8.0 s since start (limit 3 x 2.0 s "
            "interval); sampling the hypervisor fails: no node memory "
            "stats\n");

  // One good tick, then failures again: healthy for three intervals after
  // the good one, saying what fails, then 503.
  s.metrics->Record(Report(clock.NowSeconds()), Healthy());
  EXPECT_EQ(HttpGet(s.port, "/healthz").body, "ok: last tick 0.0 s ago\n");
  clock.Advance(2);
  failed.time_s = clock.NowSeconds();
  s.metrics->Record(failed, Healthy());
  r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "ok: last tick 2.0 s ago; sampling the hypervisor fails: no "
            "node memory stats\n");
  clock.Advance(4.5);
  s.metrics->Record(failed, Healthy());
  r = HttpGet(s.port, "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("unhealthy: last tick 6.5 s ago"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("no node memory stats"), std::string::npos) << r.body;
}

TEST(HttpTest, UnknownPathIs404) {
  ManualClock clock(0);
  Server s = StartLocal(&clock);
  EXPECT_EQ(HttpGet(s.port, "/metricsx").status, 404);
  EXPECT_EQ(HttpGet(s.port, "/metrics/extra").status, 404);
  EXPECT_EQ(HttpGet(s.port, "/favicon.ico").status, 404);
  EXPECT_EQ(HttpGet(s.port, "/../etc/passwd").status, 404);
}

TEST(HttpTest, MethodsOtherThanGetAndHeadAre405) {
  ManualClock clock(0);
  Server s = StartLocal(&clock);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    HttpResponse r =
        HttpRequest(s.port, method, "/metrics", {"Content-Length: 0"});
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.headers["allow"], "GET, HEAD") << method;
  }
  EXPECT_EQ(
      HttpRequest(s.port, "POST", "/healthz", {"Content-Length: 0"}).status,
      405);
}

TEST(HttpTest, HeadHasHeadersButNoBody) {
  ManualClock clock(0);
  Server s = StartLocal(&clock);
  HttpResponse get = HttpGet(s.port, "/metrics");
  HttpResponse head = HttpRequest(s.port, "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.headers["content-length"], std::to_string(get.body.size()));
}

TEST(HttpTest, IndexLinksToMetricsAndHealthz) {
  ManualClock clock(0);
  Server s = StartLocal(&clock);
  HttpResponse r = HttpGet(s.port, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("href=\"/metrics\""), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/healthz\""), std::string::npos);
}

TEST(HttpTest, StartFailsWhenThePortIsInUse) {
  ManualClock clock(0);
  Server first = StartLocal(&clock);
  MetricsOptions options;
  options.listen = "127.0.0.1:" + std::to_string(first.port);
  auto second = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(second.status().message(),
            "cannot serve metrics on " + options.listen +
                ": address in use: another process listens on port " +
                std::to_string(first.port) + " (Address already in use)");
}

TEST(HttpTest, StartRejectsBadListenAddresses) {
  ManualClock clock(0);
  for (const char* listen : {"127.0.0.1:", "127.0.0.1:http", "127.0.0.1:99999",
                             "::1:9741"}) {
    MetricsOptions options;
    options.listen = listen;
    auto m = PrometheusMetrics::Start(options, &clock);
    ASSERT_FALSE(m.ok()) << listen;
    EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument) << listen;
  }
}

}  // namespace
}  // namespace memcoord
