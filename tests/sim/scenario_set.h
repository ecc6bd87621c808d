// The public scenarios, the intervals they are scored at, and whether a
// scenario's demand fits its host: shared by the score tests.
#ifndef MEMCOORD_TESTS_SIM_SCENARIO_SET_H_
#define MEMCOORD_TESTS_SIM_SCENARIO_SET_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "memcoord/scenario.h"
#include "memcoord/simulator.h"
#include "memcoord/workload.h"

namespace memcoord::testing {

// tests/scenarios/*.yaml, sorted (the overcommit/ variant is not public).
inline const std::vector<std::string>& PublicScenarioFiles() {
  static const std::vector<std::string> files = [] {
    std::vector<std::string> out;
    for (const auto& e :
         std::filesystem::directory_iterator(MEMCOORD_SCENARIO_DIR)) {
      if (e.path().extension() == ".yaml") out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }();
  return files;
}

// Every score criterion holds at each of these intervals (seconds).
inline const std::vector<double>& ScoredIntervals() {
  static const std::vector<double> intervals = {1, 2, 5};
  return intervals;
}

using FileAndInterval = std::tuple<std::string, double>;

// "burst_at_2s" for a test parameter.
inline std::string FileAndIntervalName(
    const ::testing::TestParamInfo<FileAndInterval>& info) {
  std::string stem =
      std::filesystem::path(std::get<0>(info.param)).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  char interval[32];
  std::snprintf(interval, sizeof(interval), "%g", std::get<1>(info.param));
  std::string suffix = interval;
  for (char& c : suffix) {
    if (c == '.') c = '_';
  }
  return stem + "_at_" + suffix + "s";
}

// True when the scenario's demand fits (MiB):
//  - every guest's peak use (base + anon, TraceDemand) plus the balloon's
//    16 MiB and the pressure line at its maximum fits under its maximum; a
//    guest that never reports stats gets no action (G5), so its demand must
//    fit in its start size instead;
//  - at every step, the sum over running guests of that need (at least the
//    floor the guest cannot be shrunk below, and the start size of a guest
//    without stats) fits in host total - host_used - host_min_free and in
//    the guest budget.
// Page cache is reclaimable and not counted.
inline bool DemandFits(const Scenario& s) {
  constexpr double kDefaultFloorMib = 256;  // DomainLimits::floor_kib
  const double step = SimHypervisor::kDefaultStepS;
  std::vector<double> sum;
  for (const ScenarioGuest& g : s.guests) {
    const DemandTrace trace = TraceDemand(g, s.duration_s, step);
    const bool ever_stats =
        std::find(trace.stats_on.begin(), trace.stats_on.end(), true) !=
        trace.stats_on.end();
    const double room = kSimBalloonHeadroomMib + SimPressureLineMib(g.max_mib);
    const double peak = trace.PeakUsedMib(0, trace.size());
    if (peak + room > (ever_stats ? g.max_mib : g.start_mib)) return false;
    const double floor =
        std::min(g.start_mib, g.min_mib ? static_cast<double>(*g.min_mib)
                                        : kDefaultFloorMib);
    if (sum.size() < trace.size()) sum.resize(trace.size(), 0);
    for (size_t k = 0; k < trace.size(); ++k) {
      if (!trace.running[k]) continue;
      sum[k] +=
          ever_stats ? std::max(trace.used_mib[k] + room, floor) : g.start_mib;
    }
  }
  const double host_room =
      s.host_total_mib - s.host_used_mib - s.host_min_free_mib;
  for (double v : sum) {
    if (v > host_room) return false;
    if (s.guest_budget_mib && v > static_cast<double>(*s.guest_budget_mib)) {
      return false;
    }
  }
  return true;
}

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_SIM_SCENARIO_SET_H_
