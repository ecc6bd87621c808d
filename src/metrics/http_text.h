// Small helpers for the text of HTTP header fields (RFC 9110 5.5, 5.6).
#ifndef MEMCOORD_SRC_METRICS_HTTP_TEXT_H_
#define MEMCOORD_SRC_METRICS_HTTP_TEXT_H_

#include <cctype>
#include <cstddef>
#include <string_view>

namespace memcoord::metrics_internal {

// Field names and codings compare without regard to ASCII case.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// `s` without the spaces and tabs around it (and a trailing CR).
inline std::string_view TrimField(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_HTTP_TEXT_H_
