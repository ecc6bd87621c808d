// TlsFront: terminates TLS on the public metrics socket and relays each
// connection's plaintext to the HTTP server (CivetWeb) listening privately on
// 127.0.0.1. All HTTP semantics (paths, methods, auth, /healthz) stay in the
// HTTP server; this class only moves bytes.
//
// Why: Debian 12's CivetWeb 1.15 loads OpenSSL at run time by the OpenSSL 1.1
// function names, and OpenSSL 3 no longer exports one of them, so CivetWeb's
// own TLS cannot work there. This front uses OpenSSL 3 directly.
//
// Protocol: TLS 1.2 or newer, the certificate chain and private key from PEM
// files. Plain HTTP on the TLS port fails the handshake and is closed.
//
// Resources: one accept thread and at most `max_connections` connection
// threads; further clients wait in the listen backlog until a connection
// ends. A connection is closed when its handshake takes longer than
// `handshake_timeout_s` or when no byte moves in either direction for
// `idle_timeout_s`.
//
// Thread-safety: Listen() and Run() are called once, from one thread; the
// destructor stops accepting, closes every connection at once (in flight
// responses are cut) and joins every thread; it does not wait for timeouts.
//
// Errors: Listen() returns kInvalidArgument for an unreadable or invalid
// certificate or key (naming the file and OpenSSL's reason) and for an
// address that is not an IP literal, kUnavailable when the address cannot be
// bound. After Run(), failures of single connections close that connection.
#ifndef MEMCOORD_SRC_METRICS_TLS_FRONT_H_
#define MEMCOORD_SRC_METRICS_TLS_FRONT_H_

#include <memory>
#include <string>
#include <thread>

#include "memcoord/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace memcoord::metrics_internal {

struct TlsFrontOptions {
  std::string cert_file;  // PEM certificate chain, leaf first
  std::string key_file;   // PEM private key matching the leaf
  // IPv4 or bracketed IPv6 literal; empty or "0.0.0.0": every IPv4 address.
  std::string host;
  int port = 0;  // 0: an ephemeral port (see port())
  int max_connections = 64;
  double handshake_timeout_s = 10;
  double idle_timeout_s = 30;
};

class TlsFront {
 public:
  // Loads the certificate and key and binds the public socket; serves
  // nothing until Run().
  static Result<std::unique_ptr<TlsFront>> Listen(
      const TlsFrontOptions& options);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  // Starts accepting; each connection is relayed to 127.0.0.1:backend_port.
  Status Run(int backend_port);

  // The port bound by Listen().
  int port() const { return port_; }

  class Connections;

 private:
  TlsFront(const TlsFrontOptions& options, ssl_ctx_st* ctx, int listen_fd,
           int port);
  void AcceptLoop();
  void Serve(int client_fd);

  const TlsFrontOptions options_;
  ssl_ctx_st* const ctx_;
  const int listen_fd_;
  const int port_;
  int backend_port_ = 0;
  // eventfd: written once by the destructor and never read, so it stays
  // readable and every poll() sees it.
  int stop_fd_ = -1;
  // eventfd: a connection ended, the accept loop may take another.
  int slot_fd_ = -1;
  std::unique_ptr<Connections> connections_;
  std::thread acceptor_;
};

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_TLS_FRONT_H_
