#include "front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
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
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "http_text.h"
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

Result<CtxPtr> MakeContext(const std::string& cert_file,
                           const std::string& key_file) {
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
  // Idle connections (waiting for a header, kept alive) hold no buffers.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    return Status::InvalidArgument(
        "web.tls_cert_file " + cert_file +
        ": cannot load the certificate: " + OpenSslReasons());
  }
  // OpenSSL 3 compares the key with the certificate while loading it; the
  // check after it covers builds that do not.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      return Status::InvalidArgument(
          "web.tls_key_file " + key_file +
          ": cannot load the private key: " + OpenSslReasons());
    }
    return Status::InvalidArgument(
        "web.tls_key_file " + key_file +
        ": the private key does not match the certificate in " + cert_file +
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


namespace {

// The length of the request head in `data` (line, headers and the blank
// line; "\n\n" ends it as well as "\r\n\r\n", as for CivetWeb), 0 while it
// is incomplete.
size_t HeadLength(std::string_view data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') {
      return i + 3;
    }
  }
  return 0;
}

struct Framing {
  enum Kind { kIncomplete, kComplete, kRaw } kind = kIncomplete;
  size_t length = 0;  // kComplete: the request's bytes, head and body
};

// Where the first request in `data` (at most `capacity` bytes) ends. kRaw:
// a head or body that does not fit, a chunked body or a Content-Length the
// front cannot read; the HTTP server sees it as it comes.
Framing FrameRequest(std::string_view data, size_t capacity) {
  const size_t head = HeadLength(data);
  if (head == 0) {
    return {data.size() >= capacity ? Framing::kRaw : Framing::kIncomplete, 0};
  }
  std::optional<uint64_t> content_length;
  std::string_view rest = data.substr(0, head);
  const size_t first_line = rest.find('\n');
  rest.remove_prefix(first_line + 1);
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = TrimField(line.substr(0, colon));
    const std::string_view value = TrimField(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "transfer-encoding")) return {Framing::kRaw, 0};
    if (!EqualsIgnoreCase(name, "content-length")) continue;
    if (content_length || value.empty() || value.size() > 12 ||
        value.find_first_not_of("0123456789") != std::string_view::npos) {
      return {Framing::kRaw, 0};
    }
    content_length = std::stoull(std::string(value));
  }
  const uint64_t total = head + content_length.value_or(0);
  if (total > capacity) return {Framing::kRaw, 0};
  if (data.size() < total) return {Framing::kIncomplete, 0};
  return {Framing::kComplete, static_cast<size_t>(total)};
}

// True when the response head in `head` says the server closes.
bool SaysClose(std::string_view head) {
  constexpr std::string_view kName = "\nconnection:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    if (!EqualsIgnoreCase(head.substr(i, kName.size()), kName)) continue;
    std::string_view value = head.substr(i + kName.size());
    value = TrimField(value.substr(0, value.find('\n')));
    if (EqualsIgnoreCase(value, "close")) return true;
  }
  return false;
}

int64_t Nanos(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

SteadyClock::duration Seconds(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(s));
}

// The peer's address as bytes (an IPv4-mapped IPv6 address as IPv4).
std::string PeerKey(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* sa = reinterpret_cast<const sockaddr_in*>(&ss);
    return std::string(reinterpret_cast<const char*>(&sa->sin_addr), 4);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) {
      return std::string(reinterpret_cast<const char*>(&sa->sin6_addr) + 12,
                         4);
    }
    return std::string(reinterpret_cast<const char*>(&sa->sin6_addr), 16);
  }
  return std::string();
}

}  // namespace

// One client connection. The accept loop reads `busy`, `idle_since_ns` and
// `peer` to choose whom to close, and closes it by shutting its socket down
// (under `mu`, so never after its thread closed the descriptor).
struct Front::Connection {
  std::thread thread;
  std::atomic<bool> done{false};     // its thread has finished
  std::atomic<bool> evicted{false};  // the accept loop closed it
  std::atomic<bool> busy{false};     // a request is at the HTTP server
  std::atomic<int64_t> idle_since_ns{0};
  std::string peer;
  SteadyClock::time_point accepted;
  std::mutex mu;
  int fd = -1;  // guarded by mu for others; its thread reads it freely

  void Kick() {
    std::lock_guard<std::mutex> lock(mu);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu);
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// The connection threads, owned by the accept loop while it runs and by the
// destructor after it ends.
class Front::Connections {
 public:
  std::list<Connection> entries;

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
    for (Connection& c : entries) {
      if (c.thread.joinable()) c.thread.join();
    }
    entries.clear();
  }
};

Status Front::CheckTls(const std::string& cert_file,
                       const std::string& key_file) {
  Result<CtxPtr> made = MakeContext(cert_file, key_file);
  return made.ok() ? Status::Ok() : made.status();
}

Result<std::unique_ptr<Front>> Front::Listen(const FrontOptions& options) {
  if (options.max_connections < 1) {
    return Status::InvalidArgument(
        "web.max_connections must be at least 1");
  }
  if (options.max_connections_per_peer < 1) {
    return Status::InvalidArgument(
        "web.max_connections_per_peer must be at least 1");
  }
  if (!(options.header_timeout_s > 0)) {
    return Status::InvalidArgument("web.header_timeout_s must be > 0");
  }
  if (!(options.keepalive_timeout_s > 0)) {
    return Status::InvalidArgument("web.keepalive_timeout_s must be > 0");
  }
  if (!(options.idle_timeout_s > 0)) {
    return Status::InvalidArgument("front: idle_timeout_s must be > 0");
  }
  if (options.cert_file.has_value() != options.key_file.has_value()) {
    return Status::InvalidArgument(
        "web.tls_cert_file and web.tls_key_file must be given together");
  }
  CtxPtr ctx;
  if (options.cert_file) {
    Result<CtxPtr> made = MakeContext(*options.cert_file, *options.key_file);
    if (!made.ok()) return made.status();
    ctx = std::move(made).value();
  }

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
      // A name ("localhost"): its first IPv4 address.
      addrinfo hints{};
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
      if (rc != 0 || found == nullptr) {
        return Status::InvalidArgument(
            "web.listen host \"" + host +
            "\" is neither an IPv4 address nor a name with one: " +
            gai_strerror(rc));
      }
      sa->sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
      freeaddrinfo(found);
    }
    addr_len = sizeof(sockaddr_in);
  }

  const int fd =
      socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Unavailable("socket: " + Errno(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // A deep backlog: the accept loop takes every connection at once and
  // decides there, so the backlog only absorbs bursts.
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    const int e = errno;
    close(fd);
    if (e == EADDRINUSE) {
      return Status::Unavailable(
          "address in use: another process listens on port " +
          std::to_string(options.port) + " (" + Errno(e) + ")");
    }
    return Status::Unavailable(Errno(e));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int port =
      bound.ss_family == AF_INET6
          ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  std::unique_ptr<Front> front(new Front(options, ctx.release(), fd, port));
  front->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  front->slot_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (front->stop_fd_ < 0 || front->slot_fd_ < 0) {
    return Status::Unavailable("eventfd: " + Errno(errno));
  }
  return front;
}

Front::Front(const FrontOptions& options, SSL_CTX* ctx, int listen_fd,
             int port)
    : options_(options),
      ctx_(ctx),
      listen_fd_(listen_fd),
      port_(port),
      connections_(std::make_unique<Connections>()) {}

Front::~Front() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  connections_->JoinAll();
  close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (slot_fd_ >= 0) close(slot_fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

Status Front::Run(int backend_port) {
  backend_port_ = backend_port;
  try {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return Status::Unavailable(std::string("cannot start the HTTP front: ") +
                               e.what());
  }
  return Status::Ok();
}

void Front::AcceptLoop() {
  Connections& conns = *connections_;
  const size_t max_total = static_cast<size_t>(options_.max_connections);
  const size_t max_peer = static_cast<size_t>(options_.max_connections_per_peer);
  for (;;) {
    conns.ReapFinished();
    pollfd fds[3] = {{stop_fd_, POLLIN, 0},
                     {slot_fd_, POLLIN, 0},
                     {listen_fd_, POLLIN, 0}};
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
    sockaddr_storage peer_addr{};
    socklen_t peer_len = sizeof(peer_addr);
    const int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer_addr), &peer_len,
                SOCK_CLOEXEC | SOCK_NONBLOCK);
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
    const auto now = SteadyClock::now();
    std::string peer = PeerKey(peer_addr);

    // Per peer: its open connections and its oldest idle one.
    struct PeerLoad {
      size_t open = 0;
      Connection* oldest_idle = nullptr;
    };
    std::unordered_map<std::string, PeerLoad> loads;
    size_t total = 0;
    for (Connection& c : conns.entries) {
      if (c.done.load() || c.evicted.load()) continue;
      ++total;
      PeerLoad& load = loads[c.peer];
      ++load.open;
      if (c.busy.load()) continue;
      if (load.oldest_idle == nullptr ||
          c.idle_since_ns.load() < load.oldest_idle->idle_since_ns.load()) {
        load.oldest_idle = &c;
      }
    }
    const PeerLoad mine = loads[peer];
    // Over the total: the peer with the most connections gives one up (its
    // oldest idle), so that a client with one or two connections keeps
    // them however many the others open.
    Connection* heaviest = nullptr;
    size_t heaviest_open = 0;
    for (const auto& [key, load] : loads) {
      if (load.oldest_idle == nullptr) continue;
      if (heaviest == nullptr || load.open > heaviest_open ||
          (load.open == heaviest_open &&
           load.oldest_idle->idle_since_ns.load() <
               heaviest->idle_since_ns.load())) {
        heaviest = load.oldest_idle;
        heaviest_open = load.open;
      }
    }
    Connection* victim = nullptr;
    bool over = false;
    if (mine.open >= max_peer) {
      over = true;
      victim = mine.oldest_idle;
    } else if (total >= max_total) {
      over = true;
      victim = heaviest;
    }
    if (over && victim == nullptr) {
      // Every connection holds a request at the server: those end soon.
      close(fd);
      continue;
    }
    if (victim != nullptr) {
      victim->evicted.store(true);
      victim->Kick();
    }

    Connection* conn = nullptr;
    try {
      conn = &conns.entries.emplace_back();
      conn->peer = std::move(peer);
      conn->accepted = now;
      conn->idle_since_ns.store(Nanos(now));
      conn->fd = fd;
      conn->thread = std::thread([this, conn] {
        metrics_internal::DeprioritizeThisThread();
        Serve(conn);
        conn->done.store(true);
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = write(slot_fd_, &one, sizeof(one));
      });
    } catch (const std::exception&) {
      if (conn != nullptr && !conn->thread.joinable()) {
        conns.entries.pop_back();
      }
      close(fd);
    }
  }
}

void Front::Serve(Connection* conn) {
  // A peer that closes while we write must not kill the daemon: SIGPIPE from
  // a write in this thread stays pending here and write() returns EPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  const int client_fd = conn->fd;
  NoDelay(client_fd);

  SSL* ssl = nullptr;
  int backend_fd = -1;
  auto finish = [&](bool clean) {
    if (ssl != nullptr) {
      // One close_notify, without waiting for the peer's: the connection is
      // over either way.
      if (clean) SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (backend_fd >= 0) close(backend_fd);
    conn->Close();
    ERR_clear_error();
  };
  // The first request's deadline covers the handshake too.
  const auto first_deadline =
      conn->accepted + Seconds(options_.header_timeout_s);

  if (ctx_ != nullptr) {
    ssl = SSL_new(ctx_);
    if (ssl == nullptr || SSL_set_fd(ssl, client_fd) != 1) {
      return finish(false);
    }
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
        // Not TLS (plain HTTP on this port), a protocol the context
        // refuses, or a peer that went away.
        return finish(false);
      }
      if (!WaitFor(client_fd, events, stop_fd_, first_deadline)) {
        return finish(false);
      }
    }
  }

  constexpr ssize_t kWouldBlock = -1;
  constexpr ssize_t kFailed = -2;
  // Reads or writes the client, plain or TLS: the bytes moved, 0 for the end
  // of its stream (reads), kWouldBlock with the poll events to wait for
  // added to `*events`, or kFailed.
  auto client_read = [&](char* buf, size_t n, short* events) -> ssize_t {
    if (ssl != nullptr) {
      const int r = SSL_read(ssl, buf, static_cast<int>(n));
      if (r > 0) return r;
      const int err = SSL_get_error(ssl, r);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        *events |= POLLIN;
        return kWouldBlock;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        *events |= POLLOUT;
        return kWouldBlock;
      }
      // A reset, or TCP closed without close_notify: OpenSSL forbids
      // further I/O on the connection.
      return kFailed;
    }
    const ssize_t r = recv(client_fd, buf, n, 0);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      *events |= POLLIN;
      return kWouldBlock;
    }
    return kFailed;
  };
  auto client_write = [&](const char* buf, size_t n, short* events) -> ssize_t {
    if (ssl != nullptr) {
      const int r = SSL_write(ssl, buf, static_cast<int>(n));
      if (r > 0) return r;
      const int err = SSL_get_error(ssl, r);
      if (err == SSL_ERROR_WANT_READ) {
        *events |= POLLIN;
        return kWouldBlock;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        *events |= POLLOUT;
        return kWouldBlock;
      }
      return kFailed;
    }
    const ssize_t r = send(client_fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      *events |= POLLOUT;
      return kWouldBlock;
    }
    return kFailed;
  };

  // What the client sent that is not yet at the server: the request being
  // framed, then whatever it pipelined behind it.
  std::unique_ptr<char[]> in(new char[kRequestBuffer]);
  size_t in_len = 0;
  constexpr size_t kBuffer = 16 * 1024;
  std::array<char, kBuffer> down;  // server -> client
  std::string out;                 // client -> server, being written
  bool first = true;

  for (;;) {
    // --- Frame the next request, holding no server connection.
    conn->busy.store(false);
    // A new connection has been idle since its accept (the accept loop set
    // that), however late this thread started: eviction goes by age.
    if (!first) conn->idle_since_ns.store(Nanos(SteadyClock::now()));
    SteadyClock::time_point deadline;
    bool header_started = first || in_len > 0;
    if (first) {
      deadline = first_deadline;
    } else if (in_len > 0) {
      deadline = SteadyClock::now() + Seconds(options_.header_timeout_s);
    } else {
      deadline = SteadyClock::now() + Seconds(options_.keepalive_timeout_s);
    }
    Framing framing;
    for (;;) {
      framing = FrameRequest(std::string_view(in.get(), in_len),
                             kRequestBuffer);
      if (framing.kind != Framing::kIncomplete) break;
      short events = 0;
      const ssize_t n =
          client_read(in.get() + in_len, kRequestBuffer - in_len, &events);
      if (n > 0) {
        in_len += static_cast<size_t>(n);
        if (!header_started) {
          header_started = true;
          deadline = SteadyClock::now() + Seconds(options_.header_timeout_s);
        }
        continue;
      }
      if (n != kWouldBlock) return finish(n == 0);
      // Past the deadline, stopping, or closed to make room.
      if (!WaitFor(client_fd, events, stop_fd_, deadline)) {
        return finish(false);
      }
    }
    const bool raw = framing.kind == Framing::kRaw;
    const size_t take = raw ? in_len : framing.length;
    out.assign(in.get(), take);
    std::memmove(in.get(), in.get() + take, in_len - take);
    in_len -= take;
    first = false;

    // --- Hand it to the server and relay the response.
    conn->busy.store(true);
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

    size_t out_off = 0, down_len = 0, down_off = 0;
    bool client_eof = false, backend_eof = false, backend_shut = false;
    std::string response_head;  // the response's first bytes, up to its head
    bool head_done = false;
    const auto idle = Seconds(options_.idle_timeout_s);
    auto idle_deadline = SteadyClock::now() + idle;

    for (;;) {
      bool progress = false;
      short client_events = 0, backend_events = 0;

      if (out_off < out.size()) {
        const ssize_t n = send(backend_fd, out.data() + out_off,
                               out.size() - out_off, MSG_NOSIGNAL);
        if (n > 0) {
          out_off += static_cast<size_t>(n);
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          backend_events |= POLLOUT;
        } else {
          return finish(true);
        }
      }
      if (out_off == out.size() && !backend_shut) {
        if (raw && in_len > 0) {
          // A raw request goes on as it comes.
          out.assign(in.get(), in_len);
          out_off = 0;
          in_len = 0;
          progress = true;
          continue;
        }
        // A framed request is all the server gets on this connection: it
        // answers, finds the end of the stream and frees its worker.
        if (!raw || client_eof) {
          shutdown(backend_fd, SHUT_WR);
          backend_shut = true;
        }
      }
      // The client's next bytes: the rest of a raw request, or the next
      // request (kept until this response is out).
      if (!client_eof && in_len < kRequestBuffer &&
          (!raw || out_off == out.size())) {
        const ssize_t n = client_read(in.get() + in_len,
                                      kRequestBuffer - in_len, &client_events);
        if (n > 0) {
          in_len += static_cast<size_t>(n);
          progress = true;
        } else if (n == 0) {
          client_eof = true;
          progress = true;
        } else if (n == kFailed) {
          return finish(false);
        }
      }

      if (!backend_eof && down_off == down_len) {
        down_off = down_len = 0;
        const ssize_t n = recv(backend_fd, down.data(), down.size(), 0);
        if (n > 0) {
          down_len = static_cast<size_t>(n);
          progress = true;
          if (!head_done) {
            response_head.append(down.data(), down_len);
            const size_t end = response_head.find("\r\n\r\n");
            if (end != std::string::npos || response_head.size() > 8192) {
              if (end != std::string::npos) response_head.resize(end + 2);
              head_done = true;
            }
          }
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
        const ssize_t n = client_write(down.data() + down_off,
                                       down_len - down_off, &client_events);
        if (n > 0) {
          down_off += static_cast<size_t>(n);
          progress = true;
        } else if (n == kFailed) {
          return finish(false);
        }
      }
      // The server closed (it had one request) and everything it sent is
      // out: this response is done.
      if (backend_eof && down_off == down_len) break;

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
      // An evicted or reset client: its next read says so.
    }
    close(backend_fd);
    backend_fd = -1;
    if (raw || client_eof || !head_done || SaysClose(response_head) ||
        conn->evicted.load()) {
      return finish(true);
    }
  }
}

}  // namespace memcoord::metrics_internal
