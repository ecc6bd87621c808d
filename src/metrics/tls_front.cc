#include "tls_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <system_error>

#include "thread_priority.h"

namespace memcoord::metrics_internal {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Every reason in this thread's OpenSSL error queue, oldest first ("no start
// line", "key values mismatch"); empties the queue.
std::string OpenSslReasons() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    std::string text;
    if (reason != nullptr) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      text = buf;
    }
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string Errno(int e) { return std::strerror(e); }

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

Result<CtxPtr> MakeContext(const TlsFrontOptions& o) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return Status::Unavailable("cannot create a TLS context: " +
                               OpenSslReasons());
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Partial writes: the relay keeps its own buffer and retries the rest.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1) {
    return Status::InvalidArgument(
        "web.tls_cert_file " + o.cert_file +
        ": cannot load the certificate: " + OpenSslReasons());
  }
  // OpenSSL 3 compares the key with the certificate while loading it; the
  // check after it covers builds that do not.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      return Status::InvalidArgument(
          "web.tls_key_file " + o.key_file +
          ": cannot load the private key: " + OpenSslReasons());
    }
    return Status::InvalidArgument(
        "web.tls_key_file " + o.key_file +
        ": the private key does not match the certificate in " + o.cert_file +
        ": " + OpenSslReasons());
  }
  return ctx;
}

// Waits until `fd` is ready for `events`, `stop_fd` is readable or the
// deadline passes. False unless `fd` is ready.
bool WaitFor(int fd, short events, int stop_fd,
             SteadyClock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    const int n = poll(fds, 2, static_cast<int>(left.count()) + 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

void NoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

// The connection threads, owned by the accept loop while it runs and by the
// destructor after it ends. `done` lets the loop join finished threads
// without blocking on running ones.
class TlsFront::Connections {
 public:
  struct Entry {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Entry> entries;

  void ReapFinished() {
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->done.load()) {
        it->thread.join();
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
  }
  void JoinAll() {
    for (Entry& e : entries) e.thread.join();
    entries.clear();
  }
};

Result<std::unique_ptr<TlsFront>> TlsFront::Listen(
    const TlsFrontOptions& options) {
  if (options.max_connections < 1) {
    return Status::InvalidArgument("TLS: max_connections must be at least 1");
  }
  Result<CtxPtr> ctx = MakeContext(options);
  if (!ctx.ok()) return ctx.status();

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host = options.host;
  if (host.empty() || host == "0.0.0.0") {
    auto* sa = reinterpret_cast<sockaddr_in*>(&addr);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_ANY);
    sa->sin_port = htons(static_cast<uint16_t>(options.port));
    addr_len = sizeof(sockaddr_in);
  } else if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&addr);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(options.port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(),
                  &sa->sin6_addr) != 1) {
      return Status::InvalidArgument("web.listen host \"" + host +
                                     "\" is not an IPv6 address");
    }
    addr_len = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(options.port));
    if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) {
      return Status::InvalidArgument("web.listen host \"" + host +
                                     "\" is not an IPv4 address");
    }
    addr_len = sizeof(sockaddr_in);
  }

  const int fd =
      socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Unavailable("socket: " + Errno(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      listen(fd, 128) != 0) {
    const int e = errno;
    close(fd);
    return Status::Unavailable(Errno(e));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int port =
      bound.ss_family == AF_INET6
          ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  std::unique_ptr<TlsFront> front(
      new TlsFront(options, ctx->release(), fd, port));
  front->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  front->slot_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (front->stop_fd_ < 0 || front->slot_fd_ < 0) {
    return Status::Unavailable("eventfd: " + Errno(errno));
  }
  return front;
}

TlsFront::TlsFront(const TlsFrontOptions& options, SSL_CTX* ctx, int listen_fd,
                   int port)
    : options_(options),
      ctx_(ctx),
      listen_fd_(listen_fd),
      port_(port),
      connections_(std::make_unique<Connections>()) {}

TlsFront::~TlsFront() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  connections_->JoinAll();
  close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (slot_fd_ >= 0) close(slot_fd_);
  SSL_CTX_free(ctx_);
}

Status TlsFront::Run(int backend_port) {
  backend_port_ = backend_port;
  try {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return Status::Unavailable(std::string("cannot start the TLS thread: ") +
                               e.what());
  }
  return Status::Ok();
}

void TlsFront::AcceptLoop() {
  Connections& conns = *connections_;
  for (;;) {
    conns.ReapFinished();
    const bool room =
        conns.entries.size() < static_cast<size_t>(options_.max_connections);
    // At the limit the listening socket is left out of the poll: new clients
    // wait in the backlog instead of being refused.
    pollfd fds[3] = {{stop_fd_, POLLIN, 0},
                     {slot_fd_, POLLIN, 0},
                     {room ? listen_fd_ : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents != 0) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(slot_fd_, &count, sizeof(count));
    }
    if (fds[2].revents == 0) continue;
    const int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        // Out of descriptors: the pending client stays readable, so back
        // off instead of spinning on it.
        pollfd stop = {stop_fd_, POLLIN, 0};
        poll(&stop, 1, 50);
      }
      continue;
    }
    Connections::Entry* entry = nullptr;
    try {
      entry = &conns.entries.emplace_back();
      entry->thread = std::thread([this, fd, entry] {
        metrics_internal::DeprioritizeThisThread();
        Serve(fd);
        entry->done.store(true);
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = write(slot_fd_, &one, sizeof(one));
      });
    } catch (const std::exception&) {
      if (entry != nullptr && !entry->thread.joinable()) {
        conns.entries.pop_back();
      }
      close(fd);
    }
  }
}

void TlsFront::Serve(int client_fd) {
  // A peer that closes while we write must not kill the daemon: SIGPIPE from
  // a write in this thread stays pending here and write() returns EPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  NoDelay(client_fd);

  SSL* ssl = SSL_new(ctx_);
  int backend_fd = -1;
  auto finish = [&](bool clean) {
    if (ssl != nullptr) {
      // One close_notify, without waiting for the peer's: the connection is
      // over either way.
      if (clean) SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (backend_fd >= 0) close(backend_fd);
    close(client_fd);
    ERR_clear_error();
  };
  if (ssl == nullptr || SSL_set_fd(ssl, client_fd) != 1) return finish(false);

  const auto handshake_deadline =
      SteadyClock::now() +
      std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double>(options_.handshake_timeout_s));
  for (;;) {
    const int r = SSL_accept(ssl);
    if (r == 1) break;
    const int err = SSL_get_error(ssl, r);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      // Not TLS (plain HTTP on this port), a protocol the context refuses,
      // or a peer that went away.
      return finish(false);
    }
    if (!WaitFor(client_fd, events, stop_fd_, handshake_deadline)) {
      return finish(false);
    }
  }

  backend_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (backend_fd < 0) return finish(true);
  sockaddr_in backend{};
  backend.sin_family = AF_INET;
  backend.sin_port = htons(static_cast<uint16_t>(backend_port_));
  backend.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Blocking connect: loopback answers at once, and a refused connection
  // means the HTTP server is gone.
  if (connect(backend_fd, reinterpret_cast<sockaddr*>(&backend),
              sizeof(backend)) != 0) {
    return finish(true);
  }
  fcntl(backend_fd, F_SETFL, fcntl(backend_fd, F_GETFL) | O_NONBLOCK);
  NoDelay(backend_fd);

  // Both directions move through one buffer each; a buffer is refilled only
  // once it has been written out, which bounds memory per connection and
  // lets a slow reader push back on the writer.
  constexpr size_t kBuffer = 16 * 1024;
  std::array<char, kBuffer> up;    // client -> backend (plaintext)
  std::array<char, kBuffer> down;  // backend -> client (plaintext)
  size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
  bool client_eof = false, backend_eof = false, backend_shut = false;
  const auto idle = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(options_.idle_timeout_s));
  auto idle_deadline = SteadyClock::now() + idle;

  for (;;) {
    bool progress = false;
    short client_events = 0, backend_events = 0;
    auto want = [&](int err) {
      if (err == SSL_ERROR_WANT_READ) {
        client_events |= POLLIN;
        return true;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        client_events |= POLLOUT;
        return true;
      }
      return false;
    };

    if (!client_eof && up_off == up_len) {
      up_off = up_len = 0;
      const int n = SSL_read(ssl, up.data(), static_cast<int>(up.size()));
      if (n > 0) {
        up_len = static_cast<size_t>(n);
        progress = true;
      } else {
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN) {
          // close_notify: the client sends no more, but its response may
          // still be on the way.
          client_eof = true;
          progress = true;
        } else if (!want(err)) {
          // A reset, or TCP closed without close_notify: OpenSSL forbids
          // further I/O on the connection.
          return finish(false);
        }
      }
    }
    if (up_off < up_len) {
      const ssize_t n =
          send(backend_fd, up.data() + up_off, up_len - up_off, MSG_NOSIGNAL);
      if (n > 0) {
        up_off += static_cast<size_t>(n);
        progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        backend_events |= POLLOUT;
      } else {
        return finish(true);
      }
    }
    if (client_eof && up_off == up_len && !backend_shut) {
      shutdown(backend_fd, SHUT_WR);
      backend_shut = true;
    }

    if (!backend_eof && down_off == down_len) {
      down_off = down_len = 0;
      const ssize_t n = recv(backend_fd, down.data(), down.size(), 0);
      if (n > 0) {
        down_len = static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        backend_eof = true;
        progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        backend_events |= POLLIN;
      } else {
        backend_eof = true;
        progress = true;
      }
    }
    if (down_off < down_len) {
      const int n = SSL_write(ssl, down.data() + down_off,
                              static_cast<int>(down_len - down_off));
      if (n > 0) {
        down_off += static_cast<size_t>(n);
        progress = true;
      } else if (!want(SSL_get_error(ssl, n))) {
        return finish(false);
      }
    }
    // The server closed (end of a response without keep-alive, or its idle
    // timeout) and everything it sent is out: the connection is done.
    if (backend_eof && down_off == down_len) return finish(true);

    if (progress) {
      idle_deadline = SteadyClock::now() + idle;
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        idle_deadline - SteadyClock::now());
    if (left.count() <= 0) return finish(false);
    pollfd fds[3] = {{client_events ? client_fd : -1, client_events, 0},
                     {backend_events ? backend_fd : -1, backend_events, 0},
                     {stop_fd_, POLLIN, 0}};
    if (poll(fds, 3, static_cast<int>(left.count()) + 1) < 0 &&
        errno != EINTR) {
      return finish(false);
    }
    if (fds[2].revents != 0) return finish(false);
  }
}

}  // namespace memcoord::metrics_internal
