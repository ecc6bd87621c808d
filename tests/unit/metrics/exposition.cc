#include "exposition.h"

#include <cstdlib>
#include <sstream>

namespace memcoord::testing {
namespace {

// Parses `{a="x",b="y"}` starting at text[pos] == '{'; returns the index
// after '}', or npos.
size_t ParseLabels(const std::string& text, size_t pos, Labels& labels) {
  ++pos;  // '{'
  while (pos < text.size() && text[pos] != '}') {
    const size_t eq = text.find('=', pos);
    if (eq == std::string::npos || eq + 1 >= text.size() ||
        text[eq + 1] != '"') {
      return std::string::npos;
    }
    std::string name = text.substr(pos, eq - pos);
    std::string value;
    size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
    }
    if (i >= text.size()) return std::string::npos;
    labels[name] = value;
    pos = i + 1;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  return pos < text.size() ? pos + 1 : std::string::npos;
}

}  // namespace

ParsedExposition ParsedExposition::Parse(const std::string& text) {
  ParsedExposition p;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0 || line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const size_t sp = rest.find(' ');
      const std::string family = rest.substr(0, sp);
      const std::string what =
          sp == std::string::npos ? std::string() : rest.substr(sp + 1);
      (line[2] == 'T' ? p.types_ : p.helps_)[family] = what;
      continue;
    }
    if (line[0] == '#') continue;
    Sample s;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) {
      p.errors_.push_back(line);
      continue;
    }
    s.name = line.substr(0, pos);
    if (line[pos] == '{') {
      pos = ParseLabels(line, pos, s.labels);
      if (pos == std::string::npos) {
        p.errors_.push_back(line);
        continue;
      }
    }
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const std::string value = line.substr(pos, line.find(' ', pos) - pos);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) {
      p.errors_.push_back(line);
      continue;
    }
    p.samples_.push_back(std::move(s));
  }
  return p;
}

std::optional<double> ParsedExposition::Value(const std::string& name,
                                              const Labels& labels) const {
  for (const Sample& s : samples_) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

std::vector<Sample> ParsedExposition::Samples(const std::string& name) const {
  std::vector<Sample> out;
  for (const Sample& s : samples_) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

std::vector<Sample> ParsedExposition::SamplesOfDomain(
    const std::string& domain) const {
  std::vector<Sample> out;
  for (const Sample& s : samples_) {
    auto it = s.labels.find("domain");
    if (it != s.labels.end() && it->second == domain) out.push_back(s);
  }
  return out;
}

std::string ParsedExposition::Type(const std::string& family) const {
  auto it = types_.find(family);
  return it == types_.end() ? std::string() : it->second;
}

std::string ParsedExposition::Help(const std::string& family) const {
  auto it = helps_.find(family);
  return it == helps_.end() ? std::string() : it->second;
}

}  // namespace memcoord::testing
