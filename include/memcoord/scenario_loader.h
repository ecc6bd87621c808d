// Loading scenario files (README "The simulator and the scores") for the
// simulator.
//
// Times are seconds and sizes MiB, as in the file. Keys: name, duration_s,
// interval_s, host{total_mib, host_used_mib}, guest_budget_mib (optional, G6),
// defaults{any guest key but name}, guests[{name, at_s, max_mib, start_mib,
// base_used_mib, balloon_rate_mib_s, swap_mib, stats, min_mib, shares,
// workload[{at_s, op, mib, rate_mib_s, on}]}]. Ops: alloc{mib, rate_mib_s},
// free{mib, rate_mib_s}, free_all, cache{mib, rate_mib_s}, drop_cache,
// stats{on}, destroy, start. A guest key missing from both the guest and
// `defaults` keeps the ScenarioGuest default; `name` defaults to the file's
// base name without extension.
//
// Refused, with a located error: YAML syntax errors, unknown keys or ops (with
// a suggestion), wrong types, out-of-range values, and contradictions (start
// above max, base_used not below start, min above max, duplicate guest names,
// ops out of time order or before the guest starts or after the end, guests
// at time 0 that do not fit on the host).
//
// Errors: InvalidArgument, one line per problem,
//   FILE:LINE:COL: KEY.PATH: MESSAGE
// e.g. "tests/scenarios/x.yaml:12:16: guests[1].start_mib: 4096 is above
// max_mib 2048" (guests and ops are indexed from 0). LoadScenarioFile returns
// NotFound when the file does not exist. Nothing here throws. Thread-safe: no
// shared state.
#ifndef MEMCOORD_SCENARIO_LOADER_H_
#define MEMCOORD_SCENARIO_LOADER_H_

#include <string>
#include <string_view>

#include "memcoord/scenario.h"
#include "memcoord/status.h"

namespace memcoord {

// Reads and parses `path`; Scenario::file is set to `path`.
Result<Scenario> LoadScenarioFile(const std::string& path);

// Parses YAML text; `file_name` goes into messages and Scenario::file.
Result<Scenario> ParseScenario(std::string_view yaml_text,
                               std::string_view file_name);

}  // namespace memcoord

#endif  // MEMCOORD_SCENARIO_LOADER_H_
