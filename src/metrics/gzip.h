// Gzip for HTTP responses (RFC 1952 framing through zlib), and the request
// side: whether a client's Accept-Encoding asks for it.
//
// Thread-safety: both functions are pure and may be called from any thread.
#ifndef MEMCOORD_SRC_METRICS_GZIP_H_
#define MEMCOORD_SRC_METRICS_GZIP_H_

#include <optional>
#include <string>
#include <string_view>

namespace memcoord::metrics_internal {

// `text` gzip-compressed at a fast level (the exposition text of a tick
// shrinks about tenfold). nullopt only when zlib fails (out of memory).
std::optional<std::string> Gzip(std::string_view text);

// True when an Accept-Encoding header value (null: no header) accepts gzip:
// a `gzip` or `*` coding whose q-value is not 0 ("gzip;q=0" refuses it, and
// so does "*;q=0" without an explicit gzip). Codings are case-insensitive.
bool AcceptsGzip(const char* accept_encoding);

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_GZIP_H_
