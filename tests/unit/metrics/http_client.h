// A minimal blocking HTTP/1.1 client over loopback sockets, for tests and the
// scrape benchmark. One request per connection (Connection: close); the body
// is read until the server closes. Not for TLS. Thread-safe (no shared state).
#ifndef MEMCOORD_TESTS_UNIT_METRICS_HTTP_CLIENT_H_
#define MEMCOORD_TESTS_UNIT_METRICS_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <vector>

namespace memcoord::testing {

struct HttpResponse {
  int status = 0;  // 0: the request failed (see error)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;
};

// Fills status, headers and body from a whole response (header and body as
// read until the server closed); sets error when the header is incomplete.
void ParseHttpResponse(const std::string& raw, HttpResponse* out);

// `headers` are extra "Name: value" lines.
HttpResponse HttpRequest(int port, const std::string& method,
                         const std::string& path,
                         const std::vector<std::string>& headers = {});

inline HttpResponse HttpGet(int port, const std::string& path,
                            const std::vector<std::string>& headers = {}) {
  return HttpRequest(port, "GET", path, headers);
}

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_METRICS_HTTP_CLIENT_H_
