#include "tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace memcoord::testing {
namespace {

std::string OpenSslError(const std::string& what) {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  ERR_clear_error();
  return what + ": " + buf;
}

}  // namespace

TlsSession::TlsSession(int port, const TlsClientOptions& options) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) {
    error_ = OpenSslError("SSL_CTX_new");
    return;
  }
  if (options.max_version != 0) {
    SSL_CTX_set_max_proto_version(ctx_, options.max_version);
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) !=
      1) {
    error_ = OpenSslError("load " + options.ca_file);
    return;
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) {
    error_ = OpenSslError("handshake");
    return;
  }
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) {
    if (error_.empty()) SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (fd_ >= 0) close(fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::string TlsSession::version() const {
  return ssl_ != nullptr ? SSL_get_version(ssl_) : "";
}

bool TlsSession::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const int n =
        SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) {
      error_ = OpenSslError("write");
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool TlsSession::ReadAll(std::string* out) {
  char buf[16384];
  for (;;) {
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return true;
    error_ = OpenSslError("read");
    return false;
  }
}

bool TlsSession::ReadUntil(const std::string& marker, std::string* out) {
  char buf[4096];
  while (out->find(marker) == std::string::npos) {
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n <= 0) {
      error_ = OpenSslError("read");
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

HttpResponse HttpsRequest(int port, const std::string& method,
                          const std::string& path,
                          const TlsClientOptions& options,
                          const std::vector<std::string>& headers) {
  HttpResponse r;
  TlsSession session(port, options);
  if (!session.error().empty()) {
    r.error = session.error();
    return r;
  }
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: localhost\r\n"
                        "Connection: close\r\n";
  for (const std::string& h : headers) request += h + "\r\n";
  request += "\r\n";
  std::string raw;
  if (!session.WriteAll(request) || !session.ReadAll(&raw)) {
    r.error = session.error();
    return r;
  }
  ParseHttpResponse(raw, &r);
  return r;
}

std::string NegotiatedTlsVersion(int port, const TlsClientOptions& options) {
  TlsSession session(port, options);
  if (!session.error().empty()) return session.error();
  return session.version();
}

}  // namespace memcoord::testing
