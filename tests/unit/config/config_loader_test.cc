#include "memcoord/config_loader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "memcoord/config.h"

namespace memcoord {
namespace {

constexpr char kFile[] = "memory_coordinator.yaml";

// Field by field, so that a dropped or misread key shows by name.
void ExpectSameConfig(const Config& a, const Config& b) {
  EXPECT_EQ(a.connect, b.connect);
  EXPECT_EQ(a.interval_s, b.interval_s);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.dry_run, b.dry_run);
  EXPECT_EQ(a.thresholds.starvation_mib, b.thresholds.starvation_mib);
  EXPECT_EQ(a.thresholds.waste_mib, b.thresholds.waste_mib);
  EXPECT_EQ(a.guardrails.guest_min_unused_mib,
            b.guardrails.guest_min_unused_mib);
  EXPECT_EQ(a.guardrails.host_min_free_mib, b.guardrails.host_min_free_mib);
  EXPECT_EQ(a.guardrails.max_release_fraction,
            b.guardrails.max_release_fraction);
  EXPECT_EQ(a.guardrails.stale_after_s, b.guardrails.stale_after_s);
  EXPECT_EQ(a.guardrails.require_autodeflate,
            b.guardrails.require_autodeflate);
  EXPECT_EQ(a.host.guest_budget_mib, b.host.guest_budget_mib);
  EXPECT_EQ(a.domains.include, b.domains.include);
  EXPECT_EQ(a.domains.exclude, b.domains.exclude);
  ASSERT_EQ(a.domains.overrides.size(), b.domains.overrides.size());
  for (size_t i = 0; i < a.domains.overrides.size(); ++i) {
    SCOPED_TRACE("override " + std::to_string(i));
    const DomainOverride& x = a.domains.overrides[i];
    const DomainOverride& y = b.domains.overrides[i];
    EXPECT_EQ(x.match, y.match);
    EXPECT_EQ(x.settings.min_mib, y.settings.min_mib);
    EXPECT_EQ(x.settings.max_mib, y.settings.max_mib);
    EXPECT_EQ(x.settings.shares, y.settings.shares);
    EXPECT_EQ(x.settings.managed, y.settings.managed);
  }
  EXPECT_EQ(a.web.listen, b.web.listen);
  EXPECT_EQ(a.web.tls_cert_file, b.web.tls_cert_file);
  EXPECT_EQ(a.web.tls_key_file, b.web.tls_key_file);
  EXPECT_EQ(a.web.basic_auth_file, b.web.basic_auth_file);
  EXPECT_EQ(a.web.header_timeout_s, b.web.header_timeout_s);
  EXPECT_EQ(a.web.keepalive_timeout_s, b.web.keepalive_timeout_s);
  EXPECT_EQ(a.web.max_connections, b.web.max_connections);
  EXPECT_EQ(a.web.max_connections_per_peer, b.web.max_connections_per_peer);
  EXPECT_EQ(a.log.level, b.log.level);
}

Config Parse(std::string_view yaml) {
  Result<Config> r = ParseConfig(yaml, kFile);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Config{};
}

// A configuration with every key away from its default.
constexpr char kEveryKey[] = R"(connect: qemu+ssh://root@host/system
interval_s: 0.75
policy: seed
dry_run: true
thresholds: {starvation_mib: 200, waste_mib: 512}
guardrails:
  guest_min_unused_mib: 64
  host_min_free_mib: 1024
  max_release_fraction: 0.25
  stale_after_s: 4.5
  require_autodeflate: true
host:
  guest_budget_mib: 30000
domains:
  include: ["web-*", "db-?"]
  exclude: [web-canary]
  overrides:
    - {match: "db-*", min_mib: 2048, max_mib: 8192, shares: 2000, managed: true}
    - match: "db-[0-9]"
      shares: 0
      min_mib:
    - {match: legacy, managed: false}
web:
  listen: "127.0.0.1:9100"
  tls_cert_file: /etc/memory_coordinator/cert.pem
  tls_key_file: /etc/memory_coordinator/key.pem
  basic_auth_file: /etc/memory_coordinator/users
  header_timeout_s: 2.5
  keepalive_timeout_s: 10
  max_connections: 48
  max_connections_per_peer: 8
log: {level: debug}
)";

TEST(ConfigLoaderTest, EmptyFileGivesDefaults) {
  ExpectSameConfig(Parse(""), Config{});
  ExpectSameConfig(Parse("# nothing set here\n"), Config{});
}

TEST(ConfigLoaderTest, ReadsEveryKey) {
  Config c = Parse(kEveryKey);
  EXPECT_EQ(c.connect, "qemu+ssh://root@host/system");
  EXPECT_EQ(c.interval_s, 0.75);
  EXPECT_EQ(c.policy, "seed");
  EXPECT_TRUE(c.dry_run);
  EXPECT_EQ(c.thresholds.starvation_mib, 200);
  EXPECT_EQ(c.thresholds.waste_mib, 512);
  EXPECT_EQ(c.guardrails.guest_min_unused_mib, 64);
  EXPECT_EQ(c.guardrails.host_min_free_mib, 1024);
  EXPECT_EQ(c.guardrails.max_release_fraction, 0.25);
  EXPECT_EQ(c.guardrails.stale_after_s, 4.5);
  EXPECT_TRUE(c.guardrails.require_autodeflate);
  EXPECT_EQ(c.host.guest_budget_mib, 30000);
  EXPECT_EQ(c.domains.include, (std::vector<std::string>{"web-*", "db-?"}));
  EXPECT_EQ(c.domains.exclude, (std::vector<std::string>{"web-canary"}));
  ASSERT_EQ(c.domains.overrides.size(), 3u);
  EXPECT_EQ(c.domains.overrides[0].match, "db-*");
  EXPECT_EQ(c.domains.overrides[0].settings.min_mib, 2048);
  EXPECT_EQ(c.domains.overrides[0].settings.max_mib, 8192);
  EXPECT_EQ(c.domains.overrides[0].settings.shares, 2000);
  EXPECT_EQ(c.domains.overrides[0].settings.managed, true);
  EXPECT_EQ(c.domains.overrides[1].match, "db-[0-9]");
  EXPECT_EQ(c.domains.overrides[1].settings.shares, 0);
  EXPECT_FALSE(c.domains.overrides[1].settings.min_mib.has_value());
  EXPECT_FALSE(c.domains.overrides[1].settings.max_mib.has_value());
  EXPECT_FALSE(c.domains.overrides[1].settings.managed.has_value());
  EXPECT_EQ(c.domains.overrides[2].settings.managed, false);
  EXPECT_FALSE(c.domains.overrides[2].settings.empty());
  EXPECT_EQ(c.web.listen, "127.0.0.1:9100");
  EXPECT_EQ(c.web.tls_cert_file, "/etc/memory_coordinator/cert.pem");
  EXPECT_EQ(c.web.tls_key_file, "/etc/memory_coordinator/key.pem");
  EXPECT_EQ(c.web.basic_auth_file, "/etc/memory_coordinator/users");
  EXPECT_EQ(c.web.header_timeout_s, 2.5);
  EXPECT_EQ(c.web.keepalive_timeout_s, 10);
  EXPECT_EQ(c.web.max_connections, 48);
  EXPECT_EQ(c.web.max_connections_per_peer, 8);
  EXPECT_EQ(c.log.level, "debug");
}

TEST(ConfigLoaderTest, OverridesApplyInFileOrder) {
  Config c = Parse(kEveryKey);
  // db-1 matches both db-* and db-[0-9]; the later one's shares win while
  // the earlier one's limits stay.
  DomainLimits l = c.LimitsFor("db-1", DomainSettings{});
  EXPECT_EQ(l.shares, 0);
  EXPECT_EQ(l.floor_kib, MibToKib(2048));
  EXPECT_EQ(l.max_kib, MibToKib(8192));
  EXPECT_FALSE(c.LimitsFor("legacy", DomainSettings{}).managed);
  EXPECT_TRUE(c.Includes("web-1"));
  EXPECT_FALSE(c.Includes("web-canary"));
  EXPECT_FALSE(c.Includes("mail"));
}

TEST(ConfigLoaderTest, NullOptionalsStayUnset) {
  Config c = Parse(
      "guardrails: {stale_after_s: ~}\n"
      "host:\n"
      "  guest_budget_mib: null\n"
      "web:\n"
      "  tls_cert_file:\n"
      "  tls_key_file: null\n"
      "  basic_auth_file: ~\n"
      "domains:\n"
      "  exclude:\n"
      "  overrides:\n");
  EXPECT_FALSE(c.guardrails.stale_after_s.has_value());
  EXPECT_EQ(c.stale_after_s(), 3 * c.interval_s);
  EXPECT_FALSE(c.host.guest_budget_mib.has_value());
  EXPECT_FALSE(c.web.tls_cert_file.has_value());
  EXPECT_FALSE(c.web.tls_key_file.has_value());
  EXPECT_FALSE(c.web.basic_auth_file.has_value());
  EXPECT_TRUE(c.domains.exclude.empty());
  EXPECT_TRUE(c.domains.overrides.empty());
}

TEST(ConfigLoaderTest, EmptySectionKeepsItsDefaults) {
  Config c = Parse("thresholds:\nguardrails:\nweb:\nlog:\n");
  ExpectSameConfig(c, Config{});
}

TEST(ConfigLoaderTest, AcceptsListenForms) {
  for (const char* listen :
       {":9741", "0.0.0.0:9741", "[::1]:9741", "localhost:80", "9741"}) {
    SCOPED_TRACE(listen);
    EXPECT_EQ(
        Parse(std::string("web: {listen: \"") + listen + "\"}").web.listen,
        listen);
  }
}

TEST(ListenTest, OneParserSplitsHostAndPort) {
  struct Case {
    const char* listen;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{":9741", "", 9741}, Case{"9741", "", 9741},
                        Case{"127.0.0.1:0", "127.0.0.1", 0},
                        Case{"[::1]:80", "[::1]", 80},
                        Case{"localhost:65535", "localhost", 65535}}) {
    SCOPED_TRACE(c.listen);
    Result<ListenAddress> a = ParseListen(c.listen);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->host, c.host);
    EXPECT_EQ(a->port, c.port);
  }
  for (const char* bad : {"foo", "host:", ":65536", ":12x", "::1:9741", "[::1:80",
                          "[]:80", "a b:80", ""}) {
    SCOPED_TRACE(bad);
    Result<ListenAddress> a = ParseListen(bad);
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.status().message().find(std::string("\"") + bad + "\""),
              std::string::npos)
        << a.status().message();
  }
}

TEST(ListenTest, ValidateRejectsWhatAFlagSetsBadly) {
  // Flags bypass the loader; Validate must still refuse them.
  Config c;
  c.web.listen = "foo";
  EXPECT_EQ(c.Validate().code(), Status::Code::kInvalidArgument);
  c.web.listen = ":0";
  EXPECT_NE(c.Validate().message().find("1-65535"), std::string::npos);
  c.web.listen = "127.0.0.1:9741";
  EXPECT_TRUE(c.Validate().ok());
}

TEST(ConfigLoaderTest, AcceptsSimulatorConnect) {
  EXPECT_EQ(Parse("connect: sim:tests/scenarios/a.yaml").connect,
            "sim:tests/scenarios/a.yaml");
}

TEST(ConfigLoaderTest, RejectsUnknownKeyWithSuggestion) {
  Result<Config> r = ParseConfig("dry_run: true\ninterval: 5\n", kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "memory_coordinator.yaml:2:1: interval: unknown key; did you mean "
            "'interval_s'?");
}

TEST(ConfigLoaderTest, SuggestsTheSectionOfAMisplacedKey) {
  Result<Config> r = ParseConfig("guardrails:\n  starvation_mib: 100\n", kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "memory_coordinator.yaml:2:3: guardrails.starvation_mib: unknown "
            "key; did you mean 'thresholds.starvation_mib'?");
}

TEST(ConfigLoaderTest, ReportsEveryErrorInFileOrder) {
  Result<Config> r = ParseConfig(
      "log: {level: loud}\n"
      "interval_s: -1\n"
      "polcy: seed\n",
      kFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "memory_coordinator.yaml:1:14: log.level: must be one of debug, "
            "info, warn, error, got 'loud'\n"
            "memory_coordinator.yaml:2:13: interval_s: must be a number of "
            "seconds in (0, 3600], got '-1'\n"
            "memory_coordinator.yaml:3:1: polcy: unknown key; did you mean "
            "'policy'?");
}

TEST(ConfigLoaderTest, LoadConfigFileNamesAMissingFile) {
  Result<Config> r = LoadConfigFile("/nonexistent/memory_coordinator.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "/nonexistent/memory_coordinator.yaml: cannot open: No such file "
            "or directory");
}

TEST(ConfigLoaderTest, LoadConfigFileRefusesADirectory) {
  Result<Config> r = LoadConfigFile(MEMCOORD_SOURCE_DIR "/deploy/config");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/deploy/config: cannot read:"),
            std::string::npos)
      << r.status().message();
}

TEST(ConfigLoaderTest, ExampleFileIsTheDefaults) {
  // Installed as /etc/memory_coordinator/memory_coordinator.yaml: it must
  // change nothing until the operator edits it.
  Result<Config> r = LoadConfigFile(MEMCOORD_SOURCE_DIR
                                    "/deploy/config/memory_coordinator.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectSameConfig(*r, Config{});
}

TEST(ConfigLoaderTest, DumpOfDefaultsParsesBackToDefaults) {
  std::string dumped = DumpConfig(Config{});
  ExpectSameConfig(Parse(dumped), Config{});
}

TEST(ConfigLoaderTest, DumpRoundTripsEveryKey) {
  Config c = Parse(kEveryKey);
  std::string dumped = DumpConfig(c);
  ExpectSameConfig(Parse(dumped), c);
  EXPECT_EQ(DumpConfig(Parse(dumped)), dumped);
}

TEST(ConfigLoaderTest, DumpRoundTripsAwkwardValues) {
  Config c;
  c.connect = "sim:dir with \"quotes\"\\and\ttabs: # not a comment";
  c.interval_s = 0.1;
  c.guardrails.max_release_fraction = 1.0 / 3;
  c.guardrails.stale_after_s = 1e-3;
  c.domains.include = {"*", "[!x]*", "a'b"};
  c.domains.exclude = {"- not a list item", "null"};
  c.web.basic_auth_file = "true";
  DomainOverride o;
  o.match = "{braces}";
  c.domains.overrides.push_back(o);
  ExpectSameConfig(Parse(DumpConfig(c)), c);
}

TEST(ConfigLoaderTest, DumpShowsEveryKey) {
  std::string dumped = DumpConfig(Config{});
  for (const char* key : {"connect:",
                          "interval_s:",
                          "policy:",
                          "dry_run:",
                          "thresholds:",
                          "starvation_mib:",
                          "waste_mib:",
                          "guardrails:",
                          "guest_min_unused_mib:",
                          "host_min_free_mib:",
                          "max_release_fraction:",
                          "stale_after_s:",
                          "require_autodeflate: false",
                          "host:",
                          "guest_budget_mib:",
                          "domains:",
                          "include:",
                          "exclude:",
                          "overrides:",
                          "web:",
                          "listen:",
                          "tls_cert_file:",
                          "tls_key_file:",
                          "basic_auth_file:",
                          "header_timeout_s:",
                          "keepalive_timeout_s:",
                          "max_connections:",
                          "max_connections_per_peer:",
                          "log:",
                          "level:"}) {
    EXPECT_NE(dumped.find(key), std::string::npos) << key;
  }
  EXPECT_NE(dumped.find("stale_after_s: null  # 3 x interval_s, at least 3 s = 6"),
            std::string::npos)
      << dumped;
}

TEST(ConfigLoaderTest, TruncatedExampleNeverThrows) {
  // Every prefix of a real file: all of them load or fail with a located
  // error, none escapes as an exception.
  std::string text = std::string(kEveryKey);
  for (size_t n = 0; n <= text.size(); ++n) {
    Result<Config> r = ParseConfig(text.substr(0, n), kFile);
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind(kFile, 0), 0u)
          << "prefix " << n << ": " << r.status().message();
    }
  }
}

struct BadConfig {
  const char* name;
  const char* yaml;
  const char* error;
};

class ConfigLoaderBadConfigTest : public testing::TestWithParam<BadConfig> {};

TEST_P(ConfigLoaderBadConfigTest, RejectsWithExactError) {
  Result<Config> r = ParseConfig(GetParam().yaml, kFile);
  ASSERT_FALSE(r.ok()) << DumpConfig(*r);
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().error);
}

const BadConfig kBadConfigs[] = {
    {"SyntaxError", "interval_s: [1, 2\npolicy: seed\n",
     "memory_coordinator.yaml:2:7: YAML syntax error: end of sequence flow not "
     "found"},
    {"TwoDocuments", "policy: seed\n---\npolicy: mom\n",
     "memory_coordinator.yaml:3:1: a second YAML document ('---') is not "
     "allowed; put everything in one"},
    {"TopLevelList", "- policy: seed\n",
     "memory_coordinator.yaml:1:1: must be a mapping of keys, got a list"},
    {"UnknownKeyNoSuggestion", "colour: blue\n",
     "memory_coordinator.yaml:1:1: colour: unknown key; expected one of: "
     "connect, interval_s, policy, dry_run, thresholds, guardrails, host, "
     "domains, web, log"},
    {"UnknownNestedKey", "web:\n  listen_port: 9741\n",
     "memory_coordinator.yaml:2:3: web.listen_port: unknown key; did you mean "
     "'listen'?"},
    {"NonScalarKey", "[a, b]: 1\n",
     "memory_coordinator.yaml:1:1: keys must be plain names, got a list"},
    {"DuplicateKey", "policy: seed\ndry_run: true\npolicy: mom\n",
     "memory_coordinator.yaml:3:1: policy: duplicate key (first set on line "
     "1)"},
    {"ConnectNotAUri", "connect: localhost\n",
     "memory_coordinator.yaml:1:10: connect: must be a libvirt URI (such as "
     "qemu:///system) or sim:FILE, got 'localhost'"},
    {"ConnectSimWithoutFile", "connect: \"sim:\"\n",
     "memory_coordinator.yaml:1:10: connect: must be a libvirt URI (such as "
     "qemu:///system) or sim:FILE, got 'sim:'"},
    {"ConnectList", "connect: [qemu:///system]\n",
     "memory_coordinator.yaml:1:10: connect: must be a libvirt URI or "
     "sim:FILE, got a list"},
    {"IntervalZero", "interval_s: 0\n",
     "memory_coordinator.yaml:1:13: interval_s: must be a number of seconds in "
     "(0, 3600], got '0'"},
    {"IntervalWord", "interval_s: fast\n",
     "memory_coordinator.yaml:1:13: interval_s: must be a number of seconds in "
     "(0, 3600], got 'fast'"},
    {"IntervalQuoted", "interval_s: \"2\"\n",
     "memory_coordinator.yaml:1:13: interval_s: must be a number of seconds in "
     "(0, 3600], got the string \"2\""},
    {"IntervalEmpty", "interval_s:\npolicy: seed\n",
     "memory_coordinator.yaml:1:1: interval_s: must be a number of seconds in "
     "(0, 3600], got null"},
    {"PolicyTypo", "policy: adaptiv\n",
     "memory_coordinator.yaml:1:9: policy: must be one of seed, adaptive, mom, "
     "proxmox, got 'adaptiv'; did you mean 'adaptive'?"},
    {"PolicyUnknown", "policy: greedy\n",
     "memory_coordinator.yaml:1:9: policy: must be one of seed, adaptive, mom, "
     "proxmox, got 'greedy'"},
    {"DryRunYes", "dry_run: yes\n",
     "memory_coordinator.yaml:1:10: dry_run: must be true or false, got 'yes'"},
    {"RequireAutodeflateNumber", "guardrails:\n  require_autodeflate: 1\n",
     "memory_coordinator.yaml:2:24: guardrails.require_autodeflate: must be "
     "true or false, got '1'"},
    {"RequireAutodeflateMisspelt", "guardrails:\n  require_autodeflat: true\n",
     "memory_coordinator.yaml:2:3: guardrails.require_autodeflat: unknown key; "
     "did you mean 'require_autodeflate'?"},
    {"ThresholdsNotAMapping", "thresholds: [150, 300]\n",
     "memory_coordinator.yaml:1:13: thresholds: must be a mapping of keys, got "
     "a list"},
    {"WasteNotANumber", "policy: seed\nthresholds:\n  waste_mib: abc\n",
     "memory_coordinator.yaml:3:14: thresholds.waste_mib: must be a number of "
     "MiB >= 0, got 'abc'"},
    {"StarvationNegative", "thresholds: {starvation_mib: -5}\n",
     "memory_coordinator.yaml:1:30: thresholds.starvation_mib: must be a "
     "number of MiB >= 0, got '-5'"},
    {"StarvationFractional", "thresholds: {starvation_mib: 150.5}\n",
     "memory_coordinator.yaml:1:30: thresholds.starvation_mib: must be a "
     "whole number of MiB >= 0, got '150.5'"},
    {"StarvationNotBelowWaste",
     "thresholds:\n  starvation_mib: 300\n  waste_mib: 300\n",
     "memory_coordinator.yaml:2:19: thresholds.starvation_mib: 300 is not "
     "below waste_mib 300"},
    {"WasteBelowDefaultStarvation", "thresholds:\n  waste_mib: 100\n",
     "memory_coordinator.yaml:2:14: thresholds.waste_mib: 100 is not above "
     "starvation_mib 150"},
    {"ReleaseFractionAboveOne", "guardrails: {max_release_fraction: 1.5}\n",
     "memory_coordinator.yaml:1:36: guardrails.max_release_fraction: must be a "
     "number in (0, 1], got '1.5'"},
    {"ReleaseFractionZero", "guardrails: {max_release_fraction: 0}\n",
     "memory_coordinator.yaml:1:36: guardrails.max_release_fraction: must be a "
     "number in (0, 1], got '0'"},
    {"StaleAfterNegative", "guardrails:\n  stale_after_s: -1\n",
     "memory_coordinator.yaml:2:18: guardrails.stale_after_s: must be a number "
     "of seconds in (0, 86400], got '-1'"},
    {"HostMinFreeTooLarge", "guardrails:\n  host_min_free_mib: 99999999999\n",
     "memory_coordinator.yaml:2:22: guardrails.host_min_free_mib: 99999999999 "
     "is above the limit of 67108864 MiB"},
    {"GuestBudgetZero", "host: {guest_budget_mib: 0}\n",
     "memory_coordinator.yaml:1:26: host.guest_budget_mib: must be a number of "
     "MiB > 0, got '0'"},
    {"IncludeNull", "domains:\n  include:\n  exclude: []\n",
     "memory_coordinator.yaml:2:3: domains.include: must be a list of domain "
     "name globs, got null"},
    {"IncludeEmptyPattern", "domains: {include: [\"vm*\", \"\"]}\n",
     "memory_coordinator.yaml:1:28: domains.include[1]: must be a domain name "
     "glob, got an empty string"},
    {"ExcludeScalar", "domains:\n  exclude: vm1\n",
     "memory_coordinator.yaml:2:12: domains.exclude: must be a list of domain "
     "name globs, got 'vm1'"},
    {"OverridesMapping", "domains:\n  overrides: {match: a}\n",
     "memory_coordinator.yaml:2:14: domains.overrides: must be a list of "
     "overrides ({match, min_mib, max_mib, shares, managed}), got a mapping"},
    {"OverrideScalar", "domains:\n  overrides:\n    - db-*\n",
     "memory_coordinator.yaml:3:7: domains.overrides[0]: must be a mapping "
     "with 'match' and the settings to apply, got 'db-*'"},
    {"OverrideWithoutMatch", "domains:\n  overrides:\n    - {min_mib: 512}\n",
     "memory_coordinator.yaml:3:7: domains.overrides[0].match: is required: "
     "the glob of domain names this override applies to"},
    {"OverrideUnknownKey",
     "domains:\n  overrides:\n    - {match: a, manage: false}\n",
     "memory_coordinator.yaml:3:18: domains.overrides[0].manage: unknown key; "
     "did you mean 'managed'?"},
    {"OverrideMinAboveMax",
     "domains:\n  overrides:\n    - {match: a}\n"
     "    - {match: b, min_mib: 4096, max_mib: 2048}\n",
     "memory_coordinator.yaml:4:27: domains.overrides[1].min_mib: 4096 is "
     "above max_mib 2048"},
    {"OverrideMinBelowGuestMinUnused",
     "guardrails: {guest_min_unused_mib: 128}\n"
     "domains:\n  overrides:\n    - match: a\n      min_mib: 64\n",
     "memory_coordinator.yaml:5:16: domains.overrides[0].min_mib: 64 is below "
     "guardrails.guest_min_unused_mib 128"},
    {"OverrideMaxZero",
     "domains:\n  overrides:\n    - {match: a, max_mib: 0}\n",
     "memory_coordinator.yaml:3:27: domains.overrides[0].max_mib: must be a "
     "number of MiB > 0, got '0'"},
    {"OverrideSharesTooHigh",
     "domains:\n  overrides:\n    - {match: a, shares: 60000}\n",
     "memory_coordinator.yaml:3:26: domains.overrides[0].shares: must be a "
     "number in [0, 50000], got '60000'"},
    {"OverrideManagedWord",
     "domains:\n  overrides:\n    - {match: a, managed: maybe}\n",
     "memory_coordinator.yaml:3:27: domains.overrides[0].managed: must be true "
     "or false, got 'maybe'"},
    {"ListenBadPort", "web: {listen: \":99999\"}\n",
     "memory_coordinator.yaml:1:15: web.listen: must be [HOST]:PORT with PORT "
     "in 1-65535 (such as \":9741\" or \"127.0.0.1:9741\"), got ':99999'"},
    {"ListenNoPort", "web: {listen: \"localhost:\"}\n",
     "memory_coordinator.yaml:1:15: web.listen: must be [HOST]:PORT with PORT "
     "in 1-65535 (such as \":9741\" or \"127.0.0.1:9741\"), got 'localhost:'"},
    {"TlsCertWithoutKey", "web:\n  tls_cert_file: /etc/cert.pem\n",
     "memory_coordinator.yaml:2:18: web.tls_cert_file: is set but tls_key_file "
     "is not; TLS needs both"},
    {"TlsKeyWithoutCert", "web:\n  tls_key_file: /etc/key.pem\n",
     "memory_coordinator.yaml:2:17: web.tls_key_file: is set but "
     "tls_cert_file is not; TLS needs both"},
    {"BasicAuthEmpty", "web: {basic_auth_file: \"\"}\n",
     "memory_coordinator.yaml:1:24: web.basic_auth_file: must be a file path, "
     "got an empty string"},
    {"HeaderTimeoutZero", "web: {header_timeout_s: 0}\n",
     "memory_coordinator.yaml:1:25: web.header_timeout_s: must be a number "
     "of seconds in (0, 60], got '0'"},
    {"HeaderTimeoutTooLong", "web: {header_timeout_s: 61}\n",
     "memory_coordinator.yaml:1:25: web.header_timeout_s: must be a number "
     "of seconds in (0, 60], got '61'"},
    {"KeepaliveTimeoutNegative", "web:\n  keepalive_timeout_s: -1\n",
     "memory_coordinator.yaml:2:24: web.keepalive_timeout_s: must be a "
     "number of seconds in (0, 300], got '-1'"},
    {"MaxConnectionsZero", "web: {max_connections: 0}\n",
     "memory_coordinator.yaml:1:24: web.max_connections: must be a number "
     "in [1, 10000], got '0'"},
    {"MaxConnectionsFraction", "web: {max_connections: 1.5}\n",
     "memory_coordinator.yaml:1:24: web.max_connections: must be a whole "
     "number in [1, 10000], got '1.5'"},
    {"PerPeerAboveTotal",
     "web:\n  max_connections: 16\n  max_connections_per_peer: 32\n",
     "memory_coordinator.yaml:3:29: web.max_connections_per_peer: 32 is "
     "above max_connections 16"},
    {"TotalBelowDefaultPerPeer", "web:\n  max_connections: 16\n",
     "memory_coordinator.yaml:2:20: web.max_connections: 16 is below "
     "max_connections_per_peer 32"},
    {"LogLevelUnknown", "log:\n  level: verbose\n",
     "memory_coordinator.yaml:2:10: log.level: must be one of debug, info, "
     "warn, error, got 'verbose'"},
    {"LogLevelTypo", "log: {level: warning}\n",
     "memory_coordinator.yaml:1:14: log.level: must be one of debug, info, "
     "warn, error, got 'warning'; did you mean 'warn'?"},
};

INSTANTIATE_TEST_SUITE_P(Table, ConfigLoaderBadConfigTest,
                         testing::ValuesIn(kBadConfigs),
                         [](const testing::TestParamInfo<BadConfig>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace memcoord
