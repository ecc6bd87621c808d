#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "basic_auth.h"
#include "http_client.h"
#include "memcoord/prometheus_metrics.h"

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
  EXPECT_NE(r.body.find("memcoord_cycles_total"), std::string::npos);
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

TEST(SecurityTest, ServesTlsWithACertificateAndKey) {
  if (!HaveCommand("openssl") || !HaveCommand("curl")) {
    GTEST_SKIP() << "needs the openssl and curl commands";
  }
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem";
  const std::string key = dir.path() + "/key.pem";
  ASSERT_EQ(RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                       "-subj /CN=127.0.0.1 -keyout " +
                       key + " -out " + cert + " 2>&1"),
            0);
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  if (!m.ok() && m.status().code() == Status::Code::kUnavailable &&
      m.status().message().find("could not load OpenSSL") !=
          std::string::npos) {
    // Debian 12's CivetWeb 1.15 looks up OpenSSL 1.1 names in OpenSSL 3.
    GTEST_SKIP() << m.status().ToString();
  }
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const int port = (*m)->ListeningPorts().at(0);

  std::string body;
  ASSERT_EQ(
      RunCommand("curl -sS --fail --max-time 10 --cacert " + cert +
                     " https://127.0.0.1:" + std::to_string(port) + "/metrics",
                 &body),
      0);
  EXPECT_NE(body.find("# TYPE memcoord_cycles_total counter"),
            std::string::npos);
  // Plain HTTP on the TLS port gets no metrics.
  EXPECT_NE(HttpGet(port, "/metrics").status, 200);
}

TEST(SecurityTest, StartFailsOnABadCertificate) {
  TempDir dir;
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = dir.Write("cert.pem", "not a certificate\n");
  options.tls_key_file = dir.Write("key.pem", "not a key\n");
  ManualClock clock(0);
  auto m = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(m.ok());
  if (m.status().message().find("could not load OpenSSL") !=
      std::string::npos) {
    GTEST_SKIP() << "TLS unavailable, so the certificate is never read: "
                 << m.status().ToString();
  }
  EXPECT_NE(m.status().message().find("cert.pem"), std::string::npos)
      << m.status().ToString();
}

TEST(SecurityTest, TlsStaysUnavailableAfterAFailedLoad) {
  // A second attempt in the same process must not start a server that
  // would crash on its first TLS connection.
  TempDir dir;
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = dir.Write("cert.pem", "x");
  options.tls_key_file = dir.Write("key.pem", "x");
  ManualClock clock(0);
  auto first = PrometheusMetrics::Start(options, &clock);
  auto second = PrometheusMetrics::Start(options, &clock);
  ASSERT_FALSE(first.ok());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(first.status().code(), second.status().code());
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
