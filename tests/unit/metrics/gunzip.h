// Gunzip for tests: inflates one whole gzip stream with zlib.
#ifndef MEMCOORD_TESTS_UNIT_METRICS_GUNZIP_H_
#define MEMCOORD_TESTS_UNIT_METRICS_GUNZIP_H_

#include <zlib.h>

#include <optional>
#include <string>

namespace memcoord::testing {

// Inflates a gzip stream; nullopt when it is not one.
inline std::optional<std::string> Gunzip(const std::string& z) {
  z_stream s{};
  if (inflateInit2(&s, 15 + 16) != Z_OK) return std::nullopt;
  std::string out(64 * 1024, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (s.total_out == out.size()) out.resize(out.size() * 2);
    s.next_out = reinterpret_cast<Bytef*>(out.data() + s.total_out);
    s.avail_out = static_cast<uInt>(out.size() - s.total_out);
    rc = inflate(&s, Z_NO_FLUSH);
  }
  const uLong n = s.total_out;
  inflateEnd(&s);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(n);
  return out;
}

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_METRICS_GUNZIP_H_
