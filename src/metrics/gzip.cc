#include "gzip.h"

#include <zlib.h>

#include <cstdlib>

#include "http_text.h"

namespace memcoord::metrics_internal {

std::optional<std::string> Gzip(std::string_view text) {
  z_stream z{};
  // windowBits 15 + 16: the gzip wrapper instead of zlib's.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(text.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  // deflateBound() leaves room for the whole stream: one call finishes it.
  const int rc = deflate(&z, Z_FINISH);
  const uLong written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

namespace {

// The q-value of one "coding;q=0.5;..." element; 1 without one, 0 for a
// value that is not a number.
double QValue(std::string_view params) {
  while (!params.empty()) {
    const size_t semi = params.find(';');
    std::string_view p = TrimField(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view()
                                            : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      const std::string value(TrimField(p.substr(2)));
      char* end = nullptr;
      const double q = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return 0;
      return q;
    }
  }
  return 1;
}

}  // namespace

bool AcceptsGzip(const char* accept_encoding) {
  if (accept_encoding == nullptr) return false;
  std::string_view rest(accept_encoding);
  std::optional<double> gzip_q, any_q;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view()
                                           : rest.substr(comma + 1);
    const size_t semi = element.find(';');
    const std::string_view coding = TrimField(element.substr(0, semi));
    const double q = semi == std::string_view::npos
                         ? 1
                         : QValue(element.substr(semi + 1));
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_q = q;
    } else if (coding == "*") {
      any_q = q;
    }
  }
  if (gzip_q) return *gzip_q > 0;
  return any_q && *any_q > 0;
}

}  // namespace memcoord::metrics_internal
