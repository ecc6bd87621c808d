#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "basic_auth.h"
#include "http_client.h"
#include "memcoord/prometheus_metrics.h"
#include "test_report.h"
#include "tls_client.h"

namespace memcoord {
namespace {

using metrics_internal::Base64Decode;
using metrics_internal::BasicAuth;
using testing::HttpGet;

// "alice:wonderland" and "bob:builder" in base64.
constexpr char kAliceAuth[] = "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==";
constexpr char kBobAuth[] = "Authorization: Basic Ym9iOmJ1aWxkZXI=";

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "memcoord-metrics-XXXXXX")
            .string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << contents;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string HexDigest(const metrics_internal::Sha256Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

int RunCommand(const std::string& cmd, std::string* output = nullptr) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    out.append(buf.data(), n);
  const int rc = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool HaveCommand(const std::string& name) {
  return RunCommand("command -v " + name + " >/dev/null 2>&1") == 0;
}

TEST(BasicAuthTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(HexDigest(metrics_internal::Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(BasicAuthTest, DecodesBase64WithAndWithoutPadding) {
  EXPECT_EQ(Base64Decode("YWxpY2U6d29uZGVybGFuZA=="), "alice:wonderland");
  EXPECT_EQ(Base64Decode("YWJj"), "abc");
  EXPECT_EQ(Base64Decode("YWI="), "ab");
  EXPECT_FALSE(Base64Decode("YWJ").has_value());
  EXPECT_FALSE(Base64Decode("YW=j").has_value());
  EXPECT_FALSE(Base64Decode("YW*j").has_value());
}

TEST(BasicAuthTest, AcceptsPlainAndHashedPasswords) {
  const std::string file = "# users\n\nalice:wonderland\nbob:sha256:" +
                           HexDigest(metrics_internal::Sha256("builder")) +
                           "\r\n";
  Result<BasicAuth> auth = BasicAuth::Parse(file, "users");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_TRUE(auth->Check("Basic YWxpY2U6d29uZGVybGFuZA=="));
  EXPECT_TRUE(auth->Check("basic Ym9iOmJ1aWxkZXI="));
  EXPECT_FALSE(auth->Check("Basic YWxpY2U6YnVpbGRlcg=="));  // alice:builder
  EXPECT_FALSE(auth->Check("Basic bWFsbG9yeTp4"));          // mallory:x
  EXPECT_FALSE(auth->Check("Bearer YWxpY2U6d29uZGVybGFuZA=="));
  EXPECT_FALSE(auth->Check("Basic"));
  EXPECT_FALSE(auth->Check(nullptr));
}

TEST(BasicAuthTest, RejectsMalformedFilesNamingTheLine) {
  auto no_colon = BasicAuth::Parse("alice:x\nbob\n", "users");
  ASSERT_FALSE(no_colon.ok());
  EXPECT_NE(no_colon.status().message().find("users:2"), std::string::npos);
  auto bad_hash = BasicAuth::Parse("bob:sha256:1234\n", "users");
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_NE(bad_hash.status().message().find("users:1"), std::string::npos);
  EXPECT_FALSE(BasicAuth::Parse("# nobody\n", "users").ok());
  EXPECT_FALSE(BasicAuth::Parse("alice:\n", "users").ok());
  EXPECT_FALSE(BasicAuth::Load("/nonexistent/users").ok());
}

TEST(SecurityTest, BasicAuthGuardsEverythingButHealthz) {
  TempDir dir;
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.basic_auth_file = dir.Write(
      "users", "alice:wonderland\nbob:sha256:" +
                   HexDigest(metrics_internal::Sha256("builder")) + "\n");
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const int port = (*m)->ListeningPorts().at(0);

  testing::HttpResponse r = HttpGet(port, "/metrics");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers["www-authenticate"].find("Basic"), std::string::npos);
  EXPECT_EQ(r.body.find("memcoord_"), std::string::npos);
  EXPECT_EQ(HttpGet(port, "/").status, 401);
  EXPECT_EQ(
      HttpGet(port, "/metrics", {"Authorization: Basic YWxpY2U6YnVpbGRlcg=="})
          .status,
      401);

  r = HttpGet(port, "/metrics", {kAliceAuth});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("memcoord_ticks_total"), std::string::npos);
  EXPECT_EQ(HttpGet(port, "/metrics", {kBobAuth}).status, 200);
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
}

TEST(SecurityTest, StartFailsOnMissingAuthFile) {
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.basic_auth_file = "/nonexistent/users";
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
}

// A self-signed certificate and its key, made by the openssl command.
struct SelfSigned {
  std::string cert;
  std::string key;
};

std::optional<SelfSigned> MakeCertificate(const TempDir& dir,
                                          const std::string& stem) {
  SelfSigned s{dir.path() + "/" + stem + "-cert.pem",
               dir.path() + "/" + stem + "-key.pem"};
  if (RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                 "-subj /CN=localhost -keyout " +
                 s.key + " -out " + s.cert + " 2>&1") != 0) {
    return std::nullopt;
  }
  return s;
}

// Metrics served with TLS on 127.0.0.1:0, one tick recorded.
class TlsServer {
 public:
  explicit TlsServer(const SelfSigned& cert,
                     std::optional<std::string> auth_file = std::nullopt,
                     int http_threads = 4)
      : clock_(100) {
    MetricsOptions options;
    options.http_threads = http_threads;
    options.listen = "127.0.0.1:0";
    options.tls_cert_file = cert.cert;
    options.tls_key_file = cert.key;
    options.basic_auth_file = std::move(auth_file);
    auto m = PrometheusMetrics::Start(options, &clock_);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return;
    metrics_ = std::move(m).value();
    TickReport r = testing::Report(100);
    r.snapshot.guests.push_back(testing::Guest("vm-tls", 1024, 100));
    metrics_->Record(r, HypervisorHealth{});
    port_ = metrics_->ListeningPorts().at(0);
  }
  PrometheusMetrics* metrics() { return metrics_.get(); }
  std::unique_ptr<PrometheusMetrics>& owner() { return metrics_; }
  int port() const { return port_; }

 private:
  ManualClock clock_;
  std::unique_ptr<PrometheusMetrics> metrics_;
  int port_ = 0;
};

// A loopback TCP connection that sends nothing.
class IdleConnection {
 public:
  explicit IdleConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~IdleConnection() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
};

// Each test gets a fresh self-signed "server" certificate in its own
// directory; without the openssl command the tests are skipped.
class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveCommand("openssl")) {
      GTEST_SKIP() << "needs the openssl command for certificates";
    }
    std::optional<SelfSigned> cert = MakeCertificate(dir_, "server");
    ASSERT_TRUE(cert.has_value());
    cert_ = *cert;
  }

  TempDir dir_;
  SelfSigned cert_;
};

TEST_F(TlsTest, CurlScrapesMetricsOverTls) {
  if (!HaveCommand("curl")) GTEST_SKIP() << "needs curl";
  TlsServer server(cert_);
  ASSERT_NE(server.metrics(), nullptr);
  const std::string port = std::to_string(server.port());

  std::string body;
  ASSERT_EQ(RunCommand("curl -sS --fail --max-time 10 -k https://127.0.0.1:" +
                           port + "/metrics",
                       &body),
            0)
      << body;
  EXPECT_NE(body.find("# TYPE memcoord_ticks_total counter"),
            std::string::npos);
  EXPECT_NE(body.find("memcoord_domain_actual_bytes{domain=\"vm-tls\"} " +
                      std::to_string(1024LL * 1024 * 1024)),
            std::string::npos)
      << body;
  EXPECT_EQ(body, server.metrics()->Serialize());

  // The served certificate is the configured one: curl verifies the chain
  // and the name against it.
  std::string verified;
  EXPECT_EQ(RunCommand("curl -sS --fail --max-time 10 --cacert " + cert_.cert +
                           " --resolve localhost:" + port +
                           ":127.0.0.1 https://localhost:" + port + "/healthz",
                       &verified),
            0)
      << verified;
  EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
}

TEST_F(TlsTest, HttpSemanticsAreUnchangedBehindTls) {
  TlsServer server(cert_);
  ASSERT_NE(server.metrics(), nullptr);
  const testing::TlsClientOptions tls{cert_.cert};

  testing::HttpResponse r =
      testing::HttpsRequest(server.port(), "GET", "/metrics", tls);
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, server.metrics()->Serialize());
  EXPECT_EQ(r.headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(testing::HttpsRequest(server.port(), "GET", "/nope", tls).status,
            404);
  r = testing::HttpsRequest(server.port(), "POST", "/metrics", tls);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
  r = testing::HttpsRequest(server.port(), "HEAD", "/metrics", tls);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(testing::HttpsRequest(server.port(), "GET", "/healthz", tls).status,
            200);
}

TEST_F(TlsTest, BasicAuthWorksOverTls) {
  TlsServer server(cert_, dir_.Write("users", "alice:wonderland\n"));
  ASSERT_NE(server.metrics(), nullptr);
  const testing::TlsClientOptions tls{cert_.cert};
  EXPECT_EQ(testing::HttpsRequest(server.port(), "GET", "/metrics", tls).status,
            401);
  EXPECT_EQ(
      testing::HttpsRequest(server.port(), "GET", "/metrics", tls, {kAliceAuth})
          .status,
      200);
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGetsNoMetrics) {
  TlsServer server(cert_);
  ASSERT_NE(server.metrics(), nullptr);
  testing::HttpResponse plain = HttpGet(server.port(), "/metrics");
  EXPECT_EQ(plain.status, 0);
  EXPECT_EQ(plain.body.find("memcoord_"), std::string::npos);
  // The failed handshake costs the server nothing.
  EXPECT_EQ(
      testing::HttpsRequest(server.port(), "GET", "/metrics", {cert_.cert})
          .status,
      200);
}

TEST_F(TlsTest, AcceptsTls12AndTls13) {
  TlsServer server(cert_);
  ASSERT_NE(server.metrics(), nullptr);
  EXPECT_EQ(testing::NegotiatedTlsVersion(server.port(), {cert_.cert}),
            "TLSv1.3");
  EXPECT_EQ(testing::NegotiatedTlsVersion(server.port(),
                                          {cert_.cert, TLS1_2_VERSION}),
            "TLSv1.2");
  EXPECT_EQ(testing::HttpsRequest(server.port(), "GET", "/metrics",
                                  {cert_.cert, TLS1_2_VERSION})
                .status,
            200);
}

TEST_F(TlsTest, ConcurrentScrapesAndStalledClients) {
  // One CivetWeb worker: Debian's CivetWeb 1.15 formats its Date header
  // with gmtime(), whose static buffer two workers race on (ThreadSanitizer
  // reports it). The TLS front's connection threads still run concurrently.
  TlsServer server(cert_, std::nullopt, 1);
  ASSERT_NE(server.metrics(), nullptr);
  // Clients that connect and never start a handshake hold a connection
  // thread each until their timeout, but not the others.
  std::vector<std::unique_ptr<IdleConnection>> stalled;
  for (int i = 0; i < 8; ++i) {
    stalled.push_back(std::make_unique<IdleConnection>(server.port()));
    ASSERT_TRUE(stalled.back()->connected());
  }
  const std::string expected = server.metrics()->Serialize();
  std::atomic<int> ok{0};
  std::vector<std::thread> scrapers;
  for (int t = 0; t < 6; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        testing::HttpResponse r = testing::HttpsRequest(
            server.port(), "GET", "/metrics", {cert_.cert});
        if (r.status == 200 && r.body == expected) ++ok;
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  EXPECT_EQ(ok.load(), 30);
}

TEST_F(TlsTest, DestructorIsPromptWithOpenConnections) {
  TlsServer server(cert_);
  ASSERT_NE(server.metrics(), nullptr);
  IdleConnection before_handshake(server.port());
  ASSERT_TRUE(before_handshake.connected());
  // A keep-alive client relayed to the HTTP server (one answered request)
  // that is in the middle of its next request: the server waits for the
  // rest of the header.
  testing::TlsSession half_sent(server.port(), {cert_.cert});
  ASSERT_EQ(half_sent.error(), "");
  ASSERT_TRUE(half_sent.WriteAll("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string response;
  ASSERT_TRUE(half_sent.ReadUntil("\r\n\r\n", &response)) << half_sent.error();
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  ASSERT_TRUE(half_sent.WriteAll("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  const auto start = std::chrono::steady_clock::now();
  server.owner().reset();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_LT(seconds, 1.0);
}

// Needs no openssl command.
TEST(TlsStartTest, StartFailsOnABadCertificateNamingTheFile) {
  TempDir dir;
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = dir.Write("cert.pem", "not a certificate\n");
  options.tls_key_file = dir.Write("key.pem", "not a key\n");
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(m.status().message().find(*options.tls_cert_file),
            std::string::npos)
      << m.status().ToString();
  // OpenSSL's reason for a file without a PEM block.
  EXPECT_NE(m.status().message().find("no start line"), std::string::npos)
      << m.status().ToString();

  options.tls_cert_file = dir.path() + "/missing.pem";
  m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing.pem"), std::string::npos)
      << m.status().ToString();
}

TEST_F(TlsTest, StartFailsOnABadKeyNamingTheFile) {
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = cert_.cert;
  options.tls_key_file = dir_.Write("broken-key.pem",
                                   "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                   "-----END PRIVATE KEY-----\n");
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
  const std::string& message = m.status().message();
  EXPECT_NE(message.find("web.tls_key_file " + *options.tls_key_file),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cannot load the private key: "), std::string::npos)
      << message;
  EXPECT_EQ(message.find("unknown OpenSSL error"), std::string::npos)
      << message;
}

TEST_F(TlsTest, StartFailsWhenTheKeyDoesNotMatchTheCertificate) {
  std::optional<SelfSigned> other = MakeCertificate(dir_, "other");
  ASSERT_TRUE(other.has_value());
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = cert_.cert;
  options.tls_key_file = other->key;
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("does not match the certificate in " +
                                      cert_.cert),
            std::string::npos)
      << m.status().ToString();
}

TEST_F(TlsTest, StartFailsWhenTheTlsPortIsInUse) {
  TlsServer first(cert_);
  ASSERT_NE(first.metrics(), nullptr);
  MetricsOptions options;
  options.listen = "127.0.0.1:" + std::to_string(first.port());
  options.tls_cert_file = cert_.cert;
  options.tls_key_file = cert_.key;
  ManualClock clock(0);
  auto second = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(second.status().message().find(options.listen), std::string::npos)
      << second.status().ToString();
}

TEST(SecurityTest, StartNeedsBothCertificateAndKey) {
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = "/etc/ssl/certs/whatever.pem";
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace memcoord
