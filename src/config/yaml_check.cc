#include "src/config/yaml_check.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

namespace memcoord::yamlcheck {
namespace {

// More than this many errors is noise; the first ones are what to fix.
constexpr size_t kMaxReportedErrors = 20;

std::string JoinChoices(const std::vector<std::string_view>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += ", ";
    out += choices[i];
  }
  return out;
}

bool IsPlain(const YAML::Node& node) {
  // yaml-cpp tags plain scalars "?" and quoted ones "!"; explicit tags such
  // as !!str keep their name. Only a plain scalar can be a number or a bool.
  return node.IsScalar() && node.Tag() == "?";
}

std::optional<double> ParseDouble(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string RangeText(const NumberSpec& spec) {
  if (spec.high) {
    return std::string("in ") + (spec.low_open ? "(" : "[") +
           FormatNumber(spec.low) + ", " + FormatNumber(*spec.high) + "]";
  }
  return std::string(spec.low_open ? "> " : ">= ") + FormatNumber(spec.low);
}

std::string NumberMessage(const NumberSpec& spec, bool whole,
                          const YAML::Node& value) {
  std::string msg = whole ? "must be a whole number" : "must be a number";
  if (spec.unit) msg += std::string(" of ") + spec.unit;
  return msg + " " + RangeText(spec) + ", got " + Describe(value);
}

bool InRange(double v, const NumberSpec& spec) {
  if (spec.low_open ? !(v > spec.low) : !(v >= spec.low)) return false;
  return !spec.high || v <= *spec.high;
}

// Records the limit error and returns false when v is beyond spec.limit.
bool WithinLimit(Checker& ck, const Entry& e, const std::string& path, double v,
                 const NumberSpec& spec) {
  if (!spec.limit || v <= *spec.limit) return true;
  std::string unit = spec.unit ? std::string(" ") + spec.unit : "";
  ck.Error(e.value_pos, path,
           e.value.Scalar() + " is above the limit of " +
               FormatNumber(*spec.limit) + unit);
  return false;
}


// Remembers where the last document started; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  YAML::Mark last = YAML::Mark::null_mark();
};

// yaml-cpp 0.7 loops forever in YAML::LoadAll on a ',' outside any flow
// collection: the parser returns an empty document without consuming the
// token, again and again, and LoadAll collects them until memory runs out.
// This walks the documents with a parser that must move on each time; the
// mark where it got stuck, if it did. Syntax errors are left to LoadAll.
std::optional<YAML::Mark> StuckParserAt(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts starts;
  int previous = -1;
  try {
    for (size_t docs = 0; docs <= text.size() + 1; ++docs) {
      if (!parser.HandleNextDocument(starts)) return std::nullopt;
      if (starts.last.pos == previous) return starts.last;
      previous = starts.last.pos;
    }
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  return starts.last;
}

}  // namespace

Pos PosOf(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.line < 0) return Pos{};
  return Pos{m.line + 1, m.column + 1};
}

void Checker::Error(Pos pos, std::string_view path, std::string_view message) {
  std::string text = file_;
  if (pos.line > 0) {
    text += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  }
  text += ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  errors_.push_back(Located{pos, std::move(text)});
}

Status Checker::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  std::vector<const Located*> sorted;
  for (const Located& l : errors_) sorted.push_back(&l);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Located* a, const Located* b) {
                     return std::pair(a->pos.line, a->pos.column) <
                            std::pair(b->pos.line, b->pos.column);
                   });
  std::string msg;
  for (size_t i = 0; i < sorted.size() && i < kMaxReportedErrors; ++i) {
    if (i > 0) msg += "\n";
    msg += sorted[i]->text;
  }
  if (sorted.size() > kMaxReportedErrors) {
    msg += "\n" + file_ + ": " +
           std::to_string(sorted.size() - kMaxReportedErrors) +
           " more errors not shown";
  }
  return Status::InvalidArgument(std::move(msg));
}

Result<std::string> ReadFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"),
                                          &std::fclose);
  if (!f) {
    int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    if (err == ENOENT) return Status::NotFound(std::move(msg));
    return Status::InvalidArgument(std::move(msg));
  }
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) {
    text.append(buf, n);
  }
  if (std::ferror(f.get())) {
    // A directory opens fine on Linux and fails here with EISDIR.
    return Status::InvalidArgument(path +
                                   ": cannot read: " + std::strerror(errno));
  }
  return text;
}

std::optional<YAML::Node> ParseDocument(Checker& ck, std::string_view text) {
  if (std::optional<YAML::Mark> stuck = StuckParserAt(text)) {
    const size_t at = static_cast<size_t>(std::max(stuck->pos, 0));
    const std::string token = at < text.size() ? std::string(1, text[at]) : "";
    ck.Error(Pos{stuck->line + 1, stuck->column + 1}, "",
             "YAML syntax error: unexpected '" + token + "'");
    return std::nullopt;
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    Pos pos;
    if (e.mark.line >= 0) pos = Pos{e.mark.line + 1, e.mark.column + 1};
    ck.Error(pos, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (docs.empty()) return YAML::Node();
  if (docs.size() > 1) {
    ck.Error(PosOf(docs[1]), "",
             "a second YAML document ('---') is not allowed; put everything "
             "in one");
    return std::nullopt;
  }
  return docs[0];
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      if (IsPlain(node)) return "'" + node.Scalar() + "'";
      return "the string \"" + node.Scalar() + "\"";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string FormatNumber(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "?";
  return std::string(buf, ptr);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string> Suggest(
    std::string_view word, const std::vector<std::string_view>& candidates) {
  // A third of the word's length (at least 2) catches typos and dropped
  // suffixes ("interval" for "interval_s") without suggesting unrelated keys.
  size_t budget = std::max<size_t>(2, word.size() / 3);
  std::optional<std::string> best;
  size_t best_d = budget + 1;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    bool prefix =
        word.size() >= 3 && (c.starts_with(word) || word.starts_with(c));
    if (prefix) d = std::min(d, budget);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

Fields::Fields(Checker& ck, const YAML::Node& node, Pos pos, std::string path,
               std::vector<std::string_view> allowed,
               const std::vector<std::string_view>* all_paths)
    : path_(std::move(path)), pos_(pos) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    ck.Error(PosOf(node).line > 0 ? PosOf(node) : pos, path_,
             "must be a mapping of keys, got " + Describe(node));
    valid_ = false;
    return;
  }
  for (const auto& kv : node) {
    // Copies: yaml-cpp's iterator hands out a temporary pair.
    YAML::Node k = kv.first;
    Entry e;
    e.key_pos = PosOf(k);
    e.value = kv.second;
    e.value_pos = PosOf(e.value);
    // yaml-cpp marks an empty value at the next token, often on a later
    // line; the key is where the reader should look.
    if (e.value.IsNull() &&
        (e.value_pos.line == 0 || e.value_pos.line != e.key_pos.line)) {
      e.value_pos = e.key_pos;
    }
    if (!k.IsScalar()) {
      ck.Error(e.key_pos, path_,
               "keys must be plain names, got " + Describe(k));
      continue;
    }
    e.key = k.Scalar();
    std::string key_path = PathOf(e.key);
    if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
      std::optional<std::string> hint = Suggest(e.key, allowed);
      if (!hint && all_paths) {
        // The key may belong in another section: "waste_mib" at the top.
        for (std::string_view p : *all_paths) {
          size_t dot = p.rfind('.');
          std::string_view leaf =
              dot == std::string_view::npos ? p : p.substr(dot + 1);
          if (leaf == e.key && p != key_path) {
            hint = std::string(p);
            break;
          }
        }
      }
      if (hint) {
        ck.Error(e.key_pos, key_path,
                 "unknown key; did you mean '" + *hint + "'?");
      } else {
        ck.Error(e.key_pos, key_path,
                 "unknown key; expected one of: " + JoinChoices(allowed));
      }
      continue;
    }
    if (const Entry* first = Get(e.key)) {
      ck.Error(e.key_pos, key_path,
               "duplicate key (first set on line " +
                   std::to_string(first->key_pos.line) + ")");
      continue;
    }
    entries_.push_back(std::move(e));
  }
}

const Entry* Fields::Get(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string Fields::PathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

std::optional<double> ReadNumber(Checker& ck, const Entry& e,
                                 const std::string& path,
                                 const NumberSpec& spec) {
  std::optional<double> v;
  if (IsPlain(e.value)) v = ParseDouble(e.value.Scalar());
  if (!v || !InRange(*v, spec)) {
    ck.Error(e.value_pos, path, NumberMessage(spec, false, e.value));
    return std::nullopt;
  }
  if (!WithinLimit(ck, e, path, *v, spec)) return std::nullopt;
  return v;
}

std::optional<int64_t> ReadInt(Checker& ck, const Entry& e,
                               const std::string& path,
                               const NumberSpec& spec) {
  std::optional<int64_t> v;
  bool fractional = false;
  if (IsPlain(e.value)) {
    v = ParseInt(e.value.Scalar());
    fractional = !v && ParseDouble(e.value.Scalar()).has_value();
  }
  if (!v || !InRange(static_cast<double>(*v), spec)) {
    ck.Error(e.value_pos, path, NumberMessage(spec, fractional, e.value));
    return std::nullopt;
  }
  if (!WithinLimit(ck, e, path, static_cast<double>(*v), spec)) {
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ReadBool(Checker& ck, const Entry& e,
                             const std::string& path) {
  if (IsPlain(e.value)) {
    const std::string& s = e.value.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  ck.Error(e.value_pos, path,
           "must be true or false, got " + Describe(e.value));
  return std::nullopt;
}

std::optional<std::string> ReadString(Checker& ck, const YAML::Node& value,
                                      Pos pos, const std::string& path,
                                      std::string_view what, bool allow_empty) {
  if (!value.IsScalar() || (!allow_empty && value.Scalar().empty())) {
    ck.Error(pos, path,
             "must be " + std::string(what) + ", got " +
                 (value.IsScalar() ? std::string("an empty string")
                                   : Describe(value)));
    return std::nullopt;
  }
  return value.Scalar();
}

std::optional<std::string> ReadChoice(
    Checker& ck, const Entry& e, const std::string& path,
    const std::vector<std::string_view>& choices) {
  if (e.value.IsScalar()) {
    const std::string& s = e.value.Scalar();
    if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  }
  std::string msg =
      "must be one of " + JoinChoices(choices) + ", got " + Describe(e.value);
  if (e.value.IsScalar() && !e.value.Scalar().empty()) {
    if (auto hint = Suggest(e.value.Scalar(), choices)) {
      msg += "; did you mean '" + *hint + "'?";
    }
  }
  ck.Error(e.value_pos, path, msg);
  return std::nullopt;
}

}  // namespace memcoord::yamlcheck
