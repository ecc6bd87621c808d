// Parses Prometheus text exposition (format 0.0.4) for assertions in tests:
// samples keyed by name and label set, plus each family's TYPE and HELP.
// Value type; no synchronisation.
#ifndef MEMCOORD_TESTS_UNIT_METRICS_EXPOSITION_H_
#define MEMCOORD_TESTS_UNIT_METRICS_EXPOSITION_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memcoord::testing {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

class ParsedExposition {
 public:
  // Lines it cannot parse are collected in errors().
  static ParsedExposition Parse(const std::string& text);

  std::optional<double> Value(const std::string& name,
                              const Labels& labels = {}) const;
  // Samples of `name` (exact sample name, e.g. "x_bucket").
  std::vector<Sample> Samples(const std::string& name) const;
  // Samples of any name that carry domain=`domain`.
  std::vector<Sample> SamplesOfDomain(const std::string& domain) const;
  std::string Type(const std::string& family) const;
  std::string Help(const std::string& family) const;
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  std::vector<Sample> samples_;
  std::map<std::string, std::string> types_;
  std::map<std::string, std::string> helps_;
  std::vector<std::string> errors_;
};

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_METRICS_EXPOSITION_H_
