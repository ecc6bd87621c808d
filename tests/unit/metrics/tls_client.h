// A minimal blocking HTTPS client over loopback for the metrics tests, on
// OpenSSL 3. One request per connection (Connection: close). The server's
// certificate is verified against `ca_file` (a self-signed certificate is its
// own CA); the host name is not checked. Thread-safe (no shared state).
#ifndef MEMCOORD_TESTS_UNIT_METRICS_TLS_CLIENT_H_
#define MEMCOORD_TESTS_UNIT_METRICS_TLS_CLIENT_H_

#include <string>
#include <vector>

#include "http_client.h"

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace memcoord::testing {

struct TlsClientOptions {
  std::string ca_file;
  // TLS1_2_VERSION etc.; 0: OpenSSL's default (up to TLS 1.3).
  int max_version = 0;
};

// One TLS connection, handshaken in the constructor; error() says what
// failed. For tests that hold a connection open.
class TlsSession {
 public:
  TlsSession(int port, const TlsClientOptions& options);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  const std::string& error() const { return error_; }
  std::string version() const;  // "TLSv1.3"
  bool WriteAll(const std::string& data);
  // Everything until the server's close_notify; false on any other end.
  bool ReadAll(std::string* out);
  // Appends to `out` until it contains `marker`; false if the connection
  // ends first.
  bool ReadUntil(const std::string& marker, std::string* out);

 private:
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  int fd_ = -1;
  std::string error_;
};

// status 0 and `error` set when the connection, handshake or read failed.
HttpResponse HttpsRequest(int port, const std::string& method,
                          const std::string& path,
                          const TlsClientOptions& options,
                          const std::vector<std::string>& headers = {});

// The TLS version negotiated by a handshake with the server ("TLSv1.3"), or
// the error.
std::string NegotiatedTlsVersion(int port, const TlsClientOptions& options);

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_METRICS_TLS_CLIENT_H_
