// The front's deadlines and caps over real loopback sockets, with small
// limits so that each test takes about a second. Clients bind their own
// 127.x source addresses to be different peers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "memcoord/prometheus_metrics.h"
#include "test_report.h"

namespace memcoord {
namespace {

using Steady = std::chrono::steady_clock;
using testing::HttpGet;

double Since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// A raw client connection from `source` (an address in 127.0.0.0/8).
class Client {
 public:
  Client(int port, const char* source = "127.0.0.1")
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source, &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0 &&
        connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(s.size());
  }
  // Reads until the server closes or `seconds` pass; true when it closed.
  bool ReadUntilClosed(double seconds, std::string* got = nullptr) {
    const auto end = Steady::now() + std::chrono::duration_cast<
                                         Steady::duration>(
                                         std::chrono::duration<double>(seconds));
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - Steady::now());
      if (left.count() <= 0) return false;
      pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
      if (got != nullptr) got->append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

struct Server {
  ManualClock clock{100};
  std::unique_ptr<PrometheusMetrics> metrics;
  int port = 0;

  explicit Server(MetricsOptions options) {
    options.listen = "127.0.0.1:0";
    auto m = PrometheusMetrics::Start(options, &clock);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return;
    metrics = std::move(m).value();
    metrics->Record(testing::Report(100), HypervisorHealth{});
    port = metrics->ListeningPorts().at(0);
  }
};

TEST(FrontTest, HeaderDeadlineIsNotResetByEachLine) {
  MetricsOptions o;
  o.header_timeout_s = 1;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  Client slow(s.port);
  ASSERT_TRUE(slow.connected());
  const auto start = Steady::now();
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\n"));
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    closed = slow.ReadUntilClosed(0.2);
    if (!closed) slow.Send("X-Slow: " + std::to_string(i) + "\r\n");
  }
  ASSERT_TRUE(closed);
  EXPECT_GE(Since(start), 0.9);
  EXPECT_LT(Since(start), 1.6);
}

TEST(FrontTest, SilentConnectionIsClosedAtTheHeaderDeadline) {
  MetricsOptions o;
  o.header_timeout_s = 0.5;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  Client silent(s.port);
  ASSERT_TRUE(silent.connected());
  const auto start = Steady::now();
  EXPECT_TRUE(silent.ReadUntilClosed(3));
  EXPECT_LT(Since(start), 1.1);
}

TEST(FrontTest, KeptAliveConnectionServesPipelinedRequestsThenIdlesOut) {
  MetricsOptions o;
  o.keepalive_timeout_s = 0.5;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  Client c(s.port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(
      c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
             "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto start = Steady::now();
  std::string got;
  EXPECT_TRUE(c.ReadUntilClosed(3, &got));
  // Three answers in order on the one connection, then closed for idling.
  const size_t a = got.find("HTTP/1.1 200");
  const size_t b = got.find("HTTP/1.1 200", a + 1);
  const size_t c404 = got.find("HTTP/1.1 404");
  EXPECT_NE(a, std::string::npos) << got;
  EXPECT_NE(b, std::string::npos) << got;
  EXPECT_NE(c404, std::string::npos) << got;
  EXPECT_LT(b, c404);
  EXPECT_GE(Since(start), 0.4);
  EXPECT_LT(Since(start), 1.5);
}

TEST(FrontTest, PerPeerCapClosesThatPeersOldestIdleConnection) {
  MetricsOptions o;
  o.max_connections_per_peer = 2;
  o.header_timeout_s = 10;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  Client first(s.port, "127.0.0.2");
  ASSERT_TRUE(first.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Client second(s.port, "127.0.0.2");
  ASSERT_TRUE(second.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Client third(s.port, "127.0.0.2");
  ASSERT_TRUE(third.connected());
  EXPECT_TRUE(first.ReadUntilClosed(1));
  EXPECT_FALSE(second.ReadUntilClosed(0.2));
  // Another peer is not affected.
  EXPECT_EQ(HttpGet(s.port, "/metrics").status, 200);
  EXPECT_FALSE(second.ReadUntilClosed(0.1));
}

TEST(FrontTest, FullPoolOfIdleConnectionsStillAnswersAScrape) {
  MetricsOptions o;
  o.max_connections = 8;
  o.max_connections_per_peer = 8;
  o.header_timeout_s = 10;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 16; ++i) {
    const std::string source = "127.0.3." + std::to_string(1 + i % 4);
    idle.push_back(std::make_unique<Client>(s.port, source.c_str()));
    ASSERT_TRUE(idle.back()->connected());
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(HttpGet(s.port, "/metrics").status, 200) << i;
  }
  // The oldest went first: the first eight were closed to make room.
  EXPECT_TRUE(idle[0]->ReadUntilClosed(1));
  EXPECT_TRUE(idle[7]->ReadUntilClosed(1));
}

TEST(FrontTest, OverTheTotalTheBusiestPeerGivesUpAConnection) {
  MetricsOptions o;
  o.max_connections = 8;
  o.max_connections_per_peer = 8;
  o.header_timeout_s = 10;
  Server s(o);
  ASSERT_NE(s.metrics, nullptr);
  // The oldest idle connection of all, but its peer's only one.
  Client quiet(s.port, "127.0.0.5");
  ASSERT_TRUE(quiet.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 20; ++i) {
    const std::string source = "127.0.4." + std::to_string(1 + i % 2);
    flood.push_back(std::make_unique<Client>(s.port, source.c_str()));
    ASSERT_TRUE(flood.back()->connected());
  }
  EXPECT_TRUE(flood[0]->ReadUntilClosed(1));
  EXPECT_FALSE(quiet.ReadUntilClosed(0.3));
  EXPECT_TRUE(quiet.Send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string got;
  EXPECT_TRUE(quiet.ReadUntilClosed(2, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
}

TEST(FrontTest, ServesOnIpv6Loopback) {
  ManualClock clock(100);
  MetricsOptions o;
  o.listen = "[::1]:0";
  auto m = PrometheusMetrics::Start(o, &clock);
  if (!m.ok()) GTEST_SKIP() << m.status().ToString();
  const int port = (*m)->ListeningPorts().at(0);
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  dst.sin6_port = htons(static_cast<uint16_t>(port));
  dst.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  for (int i = 0; i < 100; ++i) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
}

TEST(FrontTest, StartRejectsBadLimits) {
  ManualClock clock(0);
  for (int which = 0; which < 4; ++which) {
    MetricsOptions o;
    o.listen = "127.0.0.1:0";
    if (which == 0) o.header_timeout_s = 0;
    if (which == 1) o.keepalive_timeout_s = -1;
    if (which == 2) o.max_connections = 0;
    if (which == 3) o.max_connections_per_peer = 0;
    auto m = PrometheusMetrics::Start(o, &clock);
    ASSERT_FALSE(m.ok()) << which;
    EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument) << which;
  }
}

}  // namespace
}  // namespace memcoord
