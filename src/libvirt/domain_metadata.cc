#include "domain_metadata.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>

namespace memcoord {
namespace {

// Large enough for any host, small enough that MiB -> KiB cannot overflow.
constexpr int64_t kMaxMib = int64_t{1} << 32;
constexpr int64_t kMaxShares = 1'000'000'000;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)) ||
         c == '-' || c == '.';
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!done() && IsSpace(s_[pos_])) ++pos_;
  }
  bool Consume(std::string_view token) {
    if (s_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }
  // Moves past the next occurrence of `token`; false if there is none.
  bool SkipPast(std::string_view token) {
    size_t at = s_.find(token, pos_);
    if (at == std::string_view::npos) return false;
    pos_ = at + token.size();
    return true;
  }
  std::string_view Name() {
    size_t start = pos_;
    if (!done() && IsNameStart(s_[pos_])) {
      ++pos_;
      while (!done() && IsNameChar(s_[pos_])) ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  // A quoted attribute value, without its quotes; nullopt if unterminated.
  std::optional<std::string_view> Quoted() {
    char q = peek();
    if (q != '"' && q != '\'') return std::nullopt;
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string_view LocalName(std::string_view qname) {
  size_t colon = qname.rfind(':');
  return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

// Replaces the five predefined XML entities; anything else is kept verbatim
// (numeric references cannot appear in a number or a boolean anyway).
std::string DecodeEntities(std::string_view v) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&quot;", '"'},
      {"&apos;", '\''},
      {"&lt;", '<'},
      {"&gt;", '>'},
      {"&amp;", '&'}};
  std::string out;
  for (size_t i = 0; i < v.size();) {
    bool replaced = false;
    if (v[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (v.substr(i, entity.size()) == entity) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(v[i++]);
  }
  return out;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsSpace(v.back())) v.remove_suffix(1);
  return v;
}

Result<int64_t> ParseCount(std::string_view attr, std::string_view raw,
                           int64_t max) {
  std::string_view v = Trim(raw);
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || out < 0 ||
      out > max) {
    return Status::InvalidArgument(
        "metadata attribute " + std::string(attr) + "=\"" + std::string(raw) +
        "\" is not an integer in [0, " + std::to_string(max) + "]");
  }
  return out;
}

Result<bool> ParseBool(std::string_view attr, std::string_view raw) {
  std::string v(Trim(raw));
  for (char& c : v)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return Status::InvalidArgument("metadata attribute " + std::string(attr) +
                                 "=\"" + std::string(raw) +
                                 "\" is not true or false");
}

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("metadata is not a settings element: " +
                                 std::string(what));
}

}  // namespace

Result<DomainSettings> ParseDomainSettingsXml(std::string_view xml) {
  Cursor c(xml);
  // Skip what may precede the element: declaration, comments, whitespace.
  for (;;) {
    c.SkipSpace();
    if (c.Consume("<?")) {
      if (!c.SkipPast("?>")) return Malformed("unterminated declaration");
    } else if (c.Consume("<!--")) {
      if (!c.SkipPast("-->")) return Malformed("unterminated comment");
    } else {
      break;
    }
  }
  if (!c.Consume("<")) return Malformed("no element");
  std::string_view tag = c.Name();
  if (LocalName(tag) != "settings") {
    return Malformed("element <" + std::string(tag) + "> is not <settings>");
  }

  DomainSettings out;
  for (;;) {
    bool had_space = IsSpace(c.peek());
    c.SkipSpace();
    if (c.Consume("/>") || c.Consume(">")) break;
    if (c.done()) return Malformed("unterminated <settings> tag");
    if (!had_space) return Malformed("attributes must be separated by space");
    std::string_view qname = c.Name();
    if (qname.empty()) return Malformed("bad character in <settings> tag");
    c.SkipSpace();
    if (!c.Consume("=")) {
      return Malformed("attribute " + std::string(qname) + " has no value");
    }
    c.SkipSpace();
    std::optional<std::string_view> quoted = c.Quoted();
    if (!quoted) {
      return Malformed("attribute " + std::string(qname) +
                       " has no quoted value");
    }
    if (qname == "xmlns" || qname.substr(0, 6) == "xmlns:") continue;
    std::string value = DecodeEntities(*quoted);
    std::string_view name = LocalName(qname);
    if (name == "min_mib" || name == "max_mib" || name == "shares") {
      Result<int64_t> n =
          ParseCount(name, value, name == "shares" ? kMaxShares : kMaxMib);
      if (!n.ok()) return n.status();
      (name == "min_mib"   ? out.min_mib
       : name == "max_mib" ? out.max_mib
                           : out.shares) = *n;
    } else if (name == "managed") {
      Result<bool> b = ParseBool(name, value);
      if (!b.ok()) return b.status();
      out.managed = *b;
    } else {
      return Status::InvalidArgument(
          "metadata attribute '" + std::string(name) +
          "' is unknown (known: min_mib, max_mib, shares, managed)");
    }
  }
  if (out.min_mib && out.max_mib && *out.min_mib > *out.max_mib) {
    return Status::InvalidArgument(
        "metadata min_mib=" + std::to_string(*out.min_mib) +
        " is above max_mib=" + std::to_string(*out.max_mib));
  }
  return out;
}

}  // namespace memcoord
