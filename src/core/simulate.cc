#include "memcoord/simulate.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/log.h"
#include "memcoord/oracle_policy.h"
#include "memcoord/policy.h"

namespace memcoord {
namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  std::string s = buf;
  // "-0.0" and "0.0" are the same score; print them the same way.
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') {
    s.erase(0, 1);
  }
  return s;
}

// Times in the CSV keep up to millisecond precision without trailing zeros,
// so that intervals like 0.25 s survive and whole seconds stay short.
std::string Time(double t) {
  std::string s = Fixed(t, 3);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

const std::vector<std::string>& SimulatePolicyNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names = PolicyNames();
    names.emplace_back(kOraclePolicyName);
    return names;
  }();
  return kNames;
}

Status CheckSimulatePolicy(const std::string& policy) {
  const std::vector<std::string>& names = SimulatePolicyNames();
  if (std::find(names.begin(), names.end(), policy) != names.end()) {
    return Status::Ok();
  }
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
  return Status::InvalidArgument("unknown policy '" + policy +
                                 "' (known: " + known + ", or all)");
}

Result<RunResult> RunScenario(const Scenario& scenario,
                              const std::string& policy, const Config& base,
                              const RunOptions& options) {
  Status valid = ValidateScenario(scenario);
  if (!valid.ok()) return valid;

  Status known = CheckSimulatePolicy(policy);
  if (!known.ok()) return known;
  const bool oracle = policy == kOraclePolicyName;
  Config config = base;
  // The oracle is injected below; the config keeps a daemon policy.
  if (!oracle) config.policy = policy;
  config.interval_s = scenario.interval_s;
  if (scenario.guest_budget_mib) {
    config.host.guest_budget_mib = scenario.guest_budget_mib;
  }

  ManualClock clock(0);
  SimHypervisor sim(scenario, &clock, 0);
  NullLogger logger;
  Controller controller(&sim, &clock, &logger, nullptr);
  Status configured =
      oracle ? controller.Configure(
                   config, NewOraclePolicy(scenario, PolicyParamsOf(config),
                                           OracleOptions{}))
             : controller.Configure(config);
  if (!configured.ok()) return configured;

  RunResult result;
  result.scenario = scenario.name;
  result.policy = policy;
  // Tick times are k * interval rather than a running sum, so long runs do
  // not drift off the simulator's step grid.
  for (int64_t k = 0;; ++k) {
    const double t = static_cast<double>(k) * scenario.interval_s;
    if (t >= scenario.duration_s) break;
    clock.Set(t);
    sim.AdvanceTo(t);
    TickReport report = controller.Tick();
    if (options.on_tick) options.on_tick(report, sim);
    if (options.keep_timeline) {
      const double host_free = sim.host_free_mib();
      for (const SimGuestState& g : sim.guests()) {
        if (!g.running) continue;
        TimelineRow row;
        row.time_s = t;
        row.domain = g.name;
        row.actual_mib = g.actual_mib;
        row.target_mib = g.target_mib;
        row.unused_mib = g.unused_mib;
        row.usable_mib = g.usable_mib;
        row.host_free_mib = host_free;
        result.timeline.push_back(std::move(row));
      }
    }
  }
  clock.Set(scenario.duration_s);
  sim.AdvanceTo(scenario.duration_s);
  result.scores = sim.scores();
  return result;
}

std::string FormatScoreTable(const std::vector<RunResult>& results) {
  const std::vector<std::string> header = {
      "scenario",  "policy",        "oom_kills", "pressure_s", "host_low_s",
      "waste_mib", "host_free_mib", "actions",   "moved_mib"};
  std::vector<std::vector<std::string>> rows;
  rows.push_back(header);
  for (const RunResult& r : results) {
    const Scores& s = r.scores;
    rows.push_back({r.scenario, r.policy, std::to_string(s.oom_kills),
                    Fixed(s.pressure_s, 1), Fixed(s.host_low_s, 1),
                    Fixed(s.waste_mib, 1), Fixed(s.host_free_mib, 1),
                    std::to_string(s.actions), Fixed(s.moved_mib, 1)});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(width[i] - row[i].size(), ' ');
      // Names read left to right; numbers line up on their last digit.
      line += i < 2 ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatTimelineCsv(const std::vector<TimelineRow>& rows) {
  std::string out =
      "time_s,domain,actual_mib,target_mib,unused_mib,usable_mib,"
      "host_free_mib\n";
  for (const TimelineRow& r : rows) {
    out += Time(r.time_s) + "," + CsvField(r.domain) + "," +
           Fixed(r.actual_mib, 1) + "," + Fixed(r.target_mib, 1) + "," +
           Fixed(r.unused_mib, 1) + "," + Fixed(r.usable_mib, 1) + "," +
           Fixed(r.host_free_mib, 1) + "\n";
  }
  return out;
}

}  // namespace memcoord
