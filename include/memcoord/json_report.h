// JSON renderings of reports, for `simulate --json` and scripts. The only
// code that includes nlohmann-json. Pure functions; thread-safe.
#ifndef MEMCOORD_JSON_REPORT_H_
#define MEMCOORD_JSON_REPORT_H_

#include <string>
#include <vector>

#include "memcoord/simulate.h"

namespace memcoord {

// {"results":[{"scenario":..,"policy":..,"scores":{"oom_kills":..,...}}]},
// with the score names of README "The simulator and the scores",
// pretty-printed, keys in a fixed order, so that equal results print equal
// bytes.
std::string ScoresToJson(const std::vector<RunResult>& results);

}  // namespace memcoord

#endif  // MEMCOORD_JSON_REPORT_H_
