#include "memcoord/json_report.h"

#include <nlohmann/json.hpp>

namespace memcoord {

std::string ScoresToJson(const std::vector<RunResult>& results) {
  // ordered_json keeps insertion order: the output is stable and reads in
  // the order of the score table.
  nlohmann::ordered_json out;
  out["results"] = nlohmann::ordered_json::array();
  for (const RunResult& r : results) {
    nlohmann::ordered_json scores;
    scores["oom_kills"] = r.scores.oom_kills;
    scores["pressure_s"] = r.scores.pressure_s;
    scores["host_low_s"] = r.scores.host_low_s;
    scores["waste_mib"] = r.scores.waste_mib;
    scores["host_free_mib"] = r.scores.host_free_mib;
    scores["actions"] = r.scores.actions;
    scores["moved_mib"] = r.scores.moved_mib;
    nlohmann::ordered_json row;
    row["scenario"] = r.scenario;
    row["policy"] = r.policy;
    row["scores"] = std::move(scores);
    out["results"].push_back(std::move(row));
  }
  return out.dump(2) + "\n";
}

}  // namespace memcoord
