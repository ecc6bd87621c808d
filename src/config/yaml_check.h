// Internal to src/config: reading yaml-cpp nodes into typed values while
// collecting located errors.
//
// Every error is one line "FILE:LINE:COL: KEY.PATH: MESSAGE" (1-based line and
// column of the offending key or value; the key path is omitted for errors
// about the whole document). Readers never throw: type and range problems are
// recorded in the Checker and the reader returns an empty optional. Callers
// still wrap their work in a catch of YAML::Exception, because yaml-cpp itself
// may throw while parsing. Not thread-safe; one Checker per load.
#ifndef MEMCOORD_SRC_CONFIG_YAML_CHECK_H_
#define MEMCOORD_SRC_CONFIG_YAML_CHECK_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memcoord/status.h"

namespace memcoord::yamlcheck {

// 1-based position in the file; line 0 means "unknown".
struct Pos {
  int line = 0;
  int column = 0;
};

Pos PosOf(const YAML::Node& node);

// Collects errors for one file.
class Checker {
 public:
  explicit Checker(std::string_view file) : file_(file) {}
  void Error(Pos pos, std::string_view path, std::string_view message);
  bool ok() const { return errors_.empty(); }
  // OK when no error was recorded; otherwise InvalidArgument with every
  // error, sorted by position, one per line.
  Status ToStatus() const;
  const std::string& file() const { return file_; }

 private:
  struct Located {
    Pos pos;
    std::string text;
  };
  std::string file_;
  std::vector<Located> errors_;
};

// Reads the whole file; NotFound/Unavailable naming the path on failure.
Result<std::string> ReadFile(const std::string& path);

// Parses exactly one YAML document. Returns a Null node for an empty file,
// and nullopt after recording a syntax error or a second document.
std::optional<YAML::Node> ParseDocument(Checker& ck, std::string_view text);

// Parses one document and hands it to `read(const YAML::Node&)`; anything
// yaml-cpp throws on the way is recorded as a located error, so no input can
// escape as an exception. `read` is not called after a syntax error.
template <typename Read>
void ReadDocument(Checker& ck, std::string_view text, Read&& read) {
  try {
    if (std::optional<YAML::Node> doc = ParseDocument(ck, text)) read(*doc);
  } catch (const YAML::Exception& e) {
    Pos pos;
    if (e.mark.line >= 0) pos = Pos{e.mark.line + 1, e.mark.column + 1};
    ck.Error(pos, "", e.msg);
  }
}

// "'abc'", "the string \"150\"", "null", "a list", "a mapping": how an
// error message shows a value it did not accept.
std::string Describe(const YAML::Node& node);

// Shortest decimal text that reads back as the same double.
std::string FormatNumber(double v);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo (or one is a prefix of the other).
std::optional<std::string> Suggest(
    std::string_view word, const std::vector<std::string_view>& candidates);

// One key of a mapping.
struct Entry {
  std::string key;
  YAML::Node value;
  Pos key_pos;
  Pos value_pos;  // for an empty value, the key's position
};

// The keys of one mapping, checked against the keys that may appear there.
// Unknown keys (with a suggestion) and duplicate keys are recorded as errors.
// A Null node reads as an empty mapping; any other non-mapping is an error.
class Fields {
 public:
  // `all_paths`, when given, lists every valid full key path of the file so
  // that a key written in the wrong section gets its right place suggested.
  Fields(Checker& ck, const YAML::Node& node, Pos pos, std::string path,
         std::vector<std::string_view> allowed,
         const std::vector<std::string_view>* all_paths = nullptr);

  const Entry* Get(std::string_view key) const;
  const std::vector<Entry>& entries() const { return entries_; }
  std::string PathOf(std::string_view key) const;
  const std::string& path() const { return path_; }
  Pos pos() const { return pos_; }
  bool valid() const { return valid_; }

 private:
  std::string path_;
  Pos pos_;
  bool valid_ = true;
  std::vector<Entry> entries_;
};

// What a number must be, for reading and for the error message
// "must be a number of MiB >= 0, got 'abc'".
struct NumberSpec {
  const char* unit = nullptr;  // "MiB", "seconds", ...; nullptr: none
  double low = 0;
  bool low_open = false;       // true: > low, false: >= low
  std::optional<double> high;  // inclusive upper bound, part of the message
  // Sanity limit with its own message, not shown in the range.
  std::optional<double> limit;

  // >= low
  static NumberSpec AtLeast(const char* unit, double low,
                            std::optional<double> limit = std::nullopt) {
    return NumberSpec{unit, low, false, std::nullopt, limit};
  }
  // > low
  static NumberSpec Above(const char* unit, double low,
                          std::optional<double> limit = std::nullopt) {
    return NumberSpec{unit, low, true, std::nullopt, limit};
  }
  // (low, high] or [low, high]
  static NumberSpec Between(const char* unit, double low, bool low_open,
                            double high) {
    return NumberSpec{unit, low, low_open, high, std::nullopt};
  }
};

// Plain scalars only: a quoted "150" is a string, not a number.
std::optional<double> ReadNumber(Checker& ck, const Entry& e,
                                 const std::string& path,
                                 const NumberSpec& spec);
std::optional<int64_t> ReadInt(Checker& ck, const Entry& e,
                               const std::string& path, const NumberSpec& spec);
// true or false (also True/TRUE/False/FALSE); yes/no/on/off are refused.
std::optional<bool> ReadBool(Checker& ck, const Entry& e,
                             const std::string& path);
// Any scalar; refused when empty unless allow_empty.
std::optional<std::string> ReadString(Checker& ck, const YAML::Node& value,
                                      Pos pos, const std::string& path,
                                      std::string_view what,
                                      bool allow_empty = false);
// A scalar that must be one of `choices`, with a suggestion when close.
std::optional<std::string> ReadChoice(
    Checker& ck, const Entry& e, const std::string& path,
    const std::vector<std::string_view>& choices);

}  // namespace memcoord::yamlcheck

#endif  // MEMCOORD_SRC_CONFIG_YAML_CHECK_H_
