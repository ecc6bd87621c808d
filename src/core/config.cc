#include "memcoord/config.h"

#include <fnmatch.h>

#include <string>

#include "memcoord/policy.h"

namespace memcoord {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  const std::string p(pattern), t(text);
  return fnmatch(p.c_str(), t.c_str(), 0) == 0;
}

bool Config::Includes(std::string_view domain) const {
  bool included = false;
  for (const std::string& g : domains.include) {
    if (GlobMatch(g, domain)) {
      included = true;
      break;
    }
  }
  if (!included) return false;
  for (const std::string& g : domains.exclude) {
    if (GlobMatch(g, domain)) return false;
  }
  return true;
}

DomainLimits Config::LimitsFor(std::string_view domain,
                               const DomainSettings& metadata) const {
  DomainLimits limits;
  auto apply = [&limits](const DomainSettings& s) {
    if (s.min_mib) limits.floor_kib = MibToKib(static_cast<double>(*s.min_mib));
    if (s.max_mib) limits.max_kib = MibToKib(static_cast<double>(*s.max_mib));
    if (s.shares) limits.shares = *s.shares;
    if (s.managed) limits.managed = *s.managed;
  };
  apply(metadata);
  for (const DomainOverride& o : domains.overrides) {
    if (GlobMatch(o.match, domain)) apply(o.settings);
  }
  return limits;
}

Status Config::Validate() const {
  if (!(interval_s > 0)) {
    return Status::InvalidArgument("interval_s must be > 0");
  }
  if (policy == kOraclePolicyName) return Status::InvalidArgument(OracleRefusal());
  if (policy != "seed" && policy != "adaptive" && policy != "mom" &&
      policy != "proxmox") {
    return Status::InvalidArgument("policy '" + policy +
                                   "' is not one of seed, adaptive, mom, proxmox");
  }
  if (thresholds.starvation_mib < 0 || thresholds.waste_mib < 0) {
    return Status::InvalidArgument("thresholds must be >= 0");
  }
  if (thresholds.starvation_mib >= thresholds.waste_mib) {
    return Status::InvalidArgument(
        "thresholds.starvation_mib must be below thresholds.waste_mib");
  }
  if (guardrails.guest_min_unused_mib < 0 || guardrails.host_min_free_mib < 0) {
    return Status::InvalidArgument("guardrails sizes must be >= 0");
  }
  if (!(guardrails.max_release_fraction > 0 &&
        guardrails.max_release_fraction <= 1)) {
    return Status::InvalidArgument(
        "guardrails.max_release_fraction must be in (0, 1]");
  }
  if (guardrails.stale_after_s && !(*guardrails.stale_after_s > 0)) {
    return Status::InvalidArgument("guardrails.stale_after_s must be > 0");
  }
  if (host.guest_budget_mib && *host.guest_budget_mib <= 0) {
    return Status::InvalidArgument("host.guest_budget_mib must be > 0");
  }
  if (Result<ListenAddress> listen = ParseListen(web.listen); !listen.ok()) {
    return listen.status();
  } else if (listen->port == 0) {
    return Status::InvalidArgument("web.listen \"" + web.listen +
                                   "\": port must be 1-65535");
  }
  if (!(web.header_timeout_s > 0)) {
    return Status::InvalidArgument("web.header_timeout_s must be > 0");
  }
  if (!(web.keepalive_timeout_s > 0)) {
    return Status::InvalidArgument("web.keepalive_timeout_s must be > 0");
  }
  if (web.max_connections < 1 || web.max_connections_per_peer < 1) {
    return Status::InvalidArgument(
        "web.max_connections and web.max_connections_per_peer must be >= 1");
  }
  if (web.max_connections_per_peer > web.max_connections) {
    return Status::InvalidArgument(
        "web.max_connections_per_peer must be <= web.max_connections");
  }
  for (size_t i = 0; i < domains.overrides.size(); ++i) {
    const DomainSettings& s = domains.overrides[i].settings;
    std::string where = "domains.overrides[" + std::to_string(i) + "]";
    if (s.min_mib && *s.min_mib < 0) {
      return Status::InvalidArgument(where + ".min_mib must be >= 0");
    }
    if (s.min_mib && s.max_mib && *s.min_mib > *s.max_mib) {
      return Status::InvalidArgument(where + ".min_mib must be <= max_mib");
    }
    if (s.min_mib && *s.min_mib < guardrails.guest_min_unused_mib) {
      return Status::InvalidArgument(
          where + ".min_mib must be >= guardrails.guest_min_unused_mib");
    }
    if (s.shares && *s.shares < 0) {
      return Status::InvalidArgument(where + ".shares must be >= 0");
    }
  }
  return Status::Ok();
}

Result<ListenAddress> ParseListen(std::string_view listen) {
  const std::string quoted = "web.listen \"" + std::string(listen) + "\"";
  const size_t colon = listen.rfind(':');
  const std::string_view host =
      colon == std::string_view::npos ? std::string_view() : listen.substr(0, colon);
  const std::string_view port =
      colon == std::string_view::npos ? listen : listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument(
        quoted + ": expected [HOST]:PORT or PORT, with PORT a number");
  }
  int number = 0;
  for (char c : port) number = number * 10 + (c - '0');
  if (number > 65535) {
    return Status::InvalidArgument(quoted + ": port must be 0-65535");
  }
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']' ||
        host.find_first_of("[] ", 1) != host.size() - 1) {
      return Status::InvalidArgument(quoted + ": bad IPv6 address");
    }
  } else if (host.find_first_of(":[] ") != std::string_view::npos) {
    return Status::InvalidArgument(
        quoted + ": write IPv6 addresses in brackets, as [::1]:9741");
  }
  return ListenAddress{std::string(host), number};
}

}  // namespace memcoord
