// Scenario: a simulated host and its guests (README "The simulator and the
// scores").
//
// Times are seconds, sizes MiB, as in the YAML file. A Scenario is a plain
// value; the YAML loader (src/config/scenario_loader.h) fills and validates it.
#ifndef MEMCOORD_SCENARIO_H_
#define MEMCOORD_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memcoord/status.h"

namespace memcoord {

struct WorkloadOp {
  enum class Kind {
    kAlloc,
    kFree,
    kFreeAll,
    kCache,
    kDropCache,
    kStats,
    kDestroy,
    kStart
  };
  double at_s = 0;
  Kind kind = Kind::kAlloc;
  double mib = 0;         // alloc, free, cache
  double rate_mib_s = 0;  // 0: at once
  bool on = true;         // stats
};
std::string_view OpName(WorkloadOp::Kind kind);

struct ScenarioGuest {
  std::string name;
  double max_mib = 2048;
  double start_mib = 512;
  double base_used_mib = 80;
  double balloon_rate_mib_s = 200;
  double swap_mib = 0;
  bool stats = true;
  std::optional<double> at_s;        // starts at this time (absent: at 0)
  std::optional<int64_t> min_mib;    // per-domain floor, as libvirt metadata
  std::optional<int64_t> shares;     // per-domain shares, as libvirt metadata
  // The balloon's autodeflate as the guest's definition states it (libvirt's
  // default is off). A guest with it reports MemTotal at its boot size, the
  // maximum, and counts its balloon as used, as Linux does; the simulated
  // balloon never deflates by itself.
  bool autodeflate = false;
  std::vector<WorkloadOp> workload;  // sorted by at_s
};

struct Scenario {
  std::string name;
  std::string file;  // where it came from, for messages
  double duration_s = 240;
  double interval_s = 1;
  double host_total_mib = 6144;
  double host_used_mib = 512;
  std::optional<int64_t> guest_budget_mib;  // G6 for this scenario's runs
  // Host free below this counts in Scores::host_low_s (README "Guardrails",
  // G2).
  double host_min_free_mib = 200;
  std::vector<ScenarioGuest> guests;
};

// Semantic checks shared by every loader: positive sizes, start <= max,
// unique names, ops in time order. Errors name the guest and key.
Status ValidateScenario(const Scenario& scenario);

// Scores of one run (README "The simulator and the scores").
struct Scores {
  int64_t oom_kills = 0;
  double pressure_s = 0;
  double host_low_s = 0;
  double waste_mib = 0;
  double host_free_mib = 0;
  int64_t actions = 0;
  double moved_mib = 0;
};

}  // namespace memcoord

#endif  // MEMCOORD_SCENARIO_H_
