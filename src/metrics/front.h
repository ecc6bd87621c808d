// Front: owns the public metrics socket, plain HTTP or TLS, and hands each
// complete request to the HTTP server (CivetWeb) listening privately on
// 127.0.0.1. All HTTP semantics (paths, methods, auth, /healthz) stay in the
// HTTP server; the front only frames requests and moves bytes.
//
// Why a front at all: CivetWeb gives each connection a worker thread from
// the moment it is accepted, so a handful of clients that send their header
// slowly, or nothing, hold every worker while real scrapes wait behind them
// (slowloris), and CivetWeb has no cap per peer address nor a way to close
// idle connections when it is full. And for TLS: Debian 12's CivetWeb 1.15
// loads OpenSSL at run time by the OpenSSL 1.1 function names, which
// OpenSSL 3 no longer exports all of, so CivetWeb's own TLS cannot work
// there; this front uses OpenSSL 3 directly.
//
// Requests: the front reads each request's header (and a body of up to
// kRequestBuffer bytes with its Content-Length) itself and opens a
// connection to the HTTP server only once it is complete, writes it and
// half-closes: the server's worker is busy for the time of one response,
// never for a slow client. A kept-alive client's next request is framed the
// same way on a new server connection. A header larger than the buffer, a
// larger body or a chunked one is relayed as it comes (the server refuses
// those) and ends the connection after the response.
//
// Deadlines, per connection:
//   - the TLS handshake and the whole first request header must arrive
//     within `header_timeout_s` of the accept (not reset by each line);
//   - between requests the next one must start within
//     `keepalive_timeout_s` of the end of the last response, and its whole
//     header arrive within `header_timeout_s` of its first byte;
//   - while a response is relayed, no byte moving in either direction for
//     `idle_timeout_s` closes the connection.
//
// Caps: at most `max_connections` connections at once, and at most
// `max_connections_per_peer` from one peer address. A connection over a cap
// closes an idle connection (one not holding a request at the HTTP server:
// waiting for its handshake or header, or kept alive between requests):
// over the per-peer cap that peer's oldest idle one; over the total, the
// oldest idle one of the peer that has the most connections, so that a
// scraper with a connection or two keeps them while another address floods.
// When there is none to close, the new connection is closed at once.
//
// Threads: one accept thread and one thread per connection (at most the
// total cap, plus closed ones ending), at the serving threads' priority.
//
// Thread-safety: Listen() and Run() are called once, from one thread; the
// destructor stops accepting, closes every connection at once (in flight
// responses are cut) and joins every thread; it does not wait for timeouts.
//
// Errors: Listen() returns kInvalidArgument for bad limits, for an
// unreadable or invalid certificate or key (naming the file and OpenSSL's
// reason) and for an address that is not an IP literal, kUnavailable when
// the address cannot be bound. After Run(), failures of single connections
// close that connection.
#ifndef MEMCOORD_SRC_METRICS_FRONT_H_
#define MEMCOORD_SRC_METRICS_FRONT_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "memcoord/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace memcoord::metrics_internal {

// The largest request the front frames itself: CivetWeb's own limit for a
// request header (max_request_size).
inline constexpr size_t kRequestBuffer = 16 * 1024;

struct FrontOptions {
  // Both set: TLS with this PEM certificate chain (leaf first) and key.
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  // IPv4 or bracketed IPv6 literal; empty or "0.0.0.0": every IPv4 address.
  std::string host;
  int port = 0;  // 0: an ephemeral port (see port())
  int max_connections = 64;
  int max_connections_per_peer = 32;
  double header_timeout_s = 5;
  double keepalive_timeout_s = 2;
  double idle_timeout_s = 30;
};

class Front {
 public:
  // Loads the certificate and key (with TLS) and binds the public socket;
  // serves nothing until Run().
  static Result<std::unique_ptr<Front>> Listen(const FrontOptions& options);
  // What Listen() checks of the certificate and key, binding nothing:
  // kInvalidArgument naming the file and OpenSSL's reason.
  static Status CheckTls(const std::string& cert_file,
                         const std::string& key_file);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  // Starts accepting; each request goes to 127.0.0.1:backend_port.
  Status Run(int backend_port);

  // The port bound by Listen().
  int port() const { return port_; }

  class Connections;
  struct Connection;

 private:
  Front(const FrontOptions& options, ssl_ctx_st* ctx, int listen_fd, int port);
  void AcceptLoop();
  void Serve(Connection* conn);

  const FrontOptions options_;
  ssl_ctx_st* const ctx_;  // null: plain HTTP
  const int listen_fd_;
  const int port_;
  int backend_port_ = 0;
  // eventfd: written once by the destructor and never read, so it stays
  // readable and every poll() sees it.
  int stop_fd_ = -1;
  // eventfd: a connection ended, the accept loop may reap it.
  int slot_fd_ = -1;
  std::unique_ptr<Connections> connections_;
  std::thread acceptor_;

};

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_FRONT_H_
