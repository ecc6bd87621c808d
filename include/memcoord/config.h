// Config: every setting of the daemon, with the defaults of README
// "Configuration".
//
// Sizes are MiB as an operator writes them; code converts with MibToKib at the
// point of use. A default-constructed Config is valid. Parsing and validation
// of the YAML file live in src/config/ (config_loader.h); Validate() here
// checks the relations between fields for configs built in code. Value type,
// not synchronised: the daemon swaps whole Configs on reload.
#ifndef MEMCOORD_CONFIG_H_
#define MEMCOORD_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

struct DomainOverride {
  std::string match;  // glob over the domain name (*, ?, [...])
  DomainSettings settings;
};

struct Config {
  std::string connect = "qemu:///system";  // libvirt URI, or sim:FILE
  double interval_s = 2;
  std::string policy = "adaptive";  // seed | adaptive | mom | proxmox
  bool dry_run = false;

  struct Thresholds {
    int64_t starvation_mib = 150;
    int64_t waste_mib = 300;
  } thresholds;

  struct Guardrails {
    int64_t guest_min_unused_mib = 100;   // G1
    int64_t host_min_free_mib = 200;      // G2
    double max_release_fraction = 0.5;    // G3
    std::optional<double> stale_after_s;  // G5; unset: see stale_after_s()
    // Never shrink a guest whose balloon autodeflate is not known to be on.
    bool require_autodeflate = false;
  } guardrails;

  struct Host {
    std::optional<int64_t> guest_budget_mib;  // G6
  } host;

  struct Domains {
    std::vector<std::string> include = {"*"};
    std::vector<std::string> exclude;
    std::vector<DomainOverride> overrides;
  } domains;

  struct Web {
    std::string listen = ":9741";
    std::optional<std::string> tls_cert_file;
    std::optional<std::string> tls_key_file;
    std::optional<std::string> basic_auth_file;
    // Slow clients: the TLS handshake and the whole request header must
    // arrive within header_timeout_s of the connection (of the first byte
    // for a kept-alive connection's next request); a kept-alive connection
    // idle for keepalive_timeout_s is closed; at most max_connections at
    // once and max_connections_per_peer from one address, the oldest idle
    // one closed to make room.
    double header_timeout_s = 5;
    double keepalive_timeout_s = 2;
    int max_connections = 64;
    int max_connections_per_peer = 32;
  } web;

  struct Log {
    std::string level = "info";
  } log;

  // Three intervals, but never less than three stats periods (guests
  // report once a second): a fast loop must not call every guest stale
  // between two reports.
  static constexpr double kMinStaleAfterS = 3;
  double stale_after_s() const {
    return guardrails.stale_after_s.value_or(
        3 * interval_s > kMinStaleAfterS ? 3 * interval_s : kMinStaleAfterS);
  }
  // True when the domain passes include and exclude.
  bool Includes(std::string_view domain) const;
  // Merged limits: defaults, then metadata, then every matching override in
  // file order (the file wins over metadata).
  DomainLimits LimitsFor(std::string_view domain,
                         const DomainSettings& metadata) const;
  // Relations between fields (starvation < waste, min <= max, ...).
  Status Validate() const;
};

// Shell-style glob as fnmatch(3) with no flags: '*', '?', '[...]' classes
// ('[!...]' negates) and '\' quoting; a '/' is an ordinary character.
bool GlobMatch(std::string_view pattern, std::string_view text);

// A web.listen address: [HOST]:PORT, or a bare PORT. An empty host means
// every address; an IPv6 host keeps its brackets ("[::1]").
struct ListenAddress {
  std::string host;
  int port = 0;
};
// InvalidArgument naming `listen` unless it is [HOST]:PORT or PORT with PORT
// in 0-65535 (0: any free port) and any IPv6 host in brackets.
Result<ListenAddress> ParseListen(std::string_view listen);

}  // namespace memcoord

#endif  // MEMCOORD_CONFIG_H_
