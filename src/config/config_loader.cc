#include "memcoord/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "memcoord/log.h"
#include "memcoord/policy.h"
#include "src/config/yaml_check.h"

namespace memcoord {
namespace {

using yamlcheck::Checker;
using yamlcheck::Entry;
using yamlcheck::Fields;
using yamlcheck::FormatNumber;
using yamlcheck::NumberSpec;
using yamlcheck::Pos;

// Far above any real host, far below where MiB-to-KiB arithmetic overflows.
constexpr double kMaxMib = 64.0 * 1024 * 1024;  // 64 TiB

const NumberSpec kMibAtLeastZero = NumberSpec::AtLeast("MiB", 0, kMaxMib);
const NumberSpec kMibAboveZero = NumberSpec::Above("MiB", 0, kMaxMib);
// Proxmox's range for shares; the proxmox policy reads the same numbers.
const NumberSpec kShares = NumberSpec::Between(nullptr, 0, false, 50000);
const NumberSpec kInterval = NumberSpec::Between("seconds", 0, true, 3600);
const NumberSpec kStaleAfter = NumberSpec::Between("seconds", 0, true, 86400);
const NumberSpec kFraction = NumberSpec::Between(nullptr, 0, true, 1);
// A scraper sends its whole request at once; a minute is far beyond any.
const NumberSpec kHeaderTimeout = NumberSpec::Between("seconds", 0, true, 60);
const NumberSpec kKeepaliveTimeout =
    NumberSpec::Between("seconds", 0, true, 300);
// One thread per connection: tens of thousands would be memory, not a cap.
const NumberSpec kConnections = NumberSpec::Between(nullptr, 1, false, 10000);

const std::vector<std::string_view> kTopKeys = {
    "connect",    "interval_s", "policy",  "dry_run", "thresholds",
    "guardrails", "host",       "domains", "web",     "log"};
const std::vector<std::string_view> kThresholdKeys = {"starvation_mib",
                                                      "waste_mib"};
const std::vector<std::string_view> kGuardrailKeys = {
    "guest_min_unused_mib", "host_min_free_mib", "max_release_fraction",
    "stale_after_s", "require_autodeflate"};
const std::vector<std::string_view> kHostKeys = {"guest_budget_mib"};
const std::vector<std::string_view> kDomainKeys = {"include", "exclude",
                                                   "overrides"};
const std::vector<std::string_view> kOverrideKeys = {
    "match", "min_mib", "max_mib", "shares", "managed"};
const std::vector<std::string_view> kWebKeys = {
    "listen",           "tls_cert_file",       "tls_key_file",
    "basic_auth_file",  "header_timeout_s",    "keepalive_timeout_s",
    "max_connections",  "max_connections_per_peer"};
const std::vector<std::string_view> kLogKeys = {"level"};
const std::vector<std::string_view> kPolicies = {"seed", "adaptive", "mom",
                                                 "proxmox"};

// Every leaf path, so that a key written in the wrong section is pointed to
// the right one.
const std::vector<std::string_view> kAllPaths = {
    "connect",
    "interval_s",
    "policy",
    "dry_run",
    "thresholds.starvation_mib",
    "thresholds.waste_mib",
    "guardrails.guest_min_unused_mib",
    "guardrails.host_min_free_mib",
    "guardrails.max_release_fraction",
    "guardrails.stale_after_s",
    "guardrails.require_autodeflate",
    "host.guest_budget_mib",
    "domains.include",
    "domains.exclude",
    "domains.overrides",
    "web.listen",
    "web.tls_cert_file",
    "web.tls_key_file",
    "web.basic_auth_file",
    "web.header_timeout_s",
    "web.keepalive_timeout_s",
    "web.max_connections",
    "web.max_connections_per_peer",
    "log.level",
};

// A section ("thresholds:") read as a mapping; an absent or empty one has no
// entries and keeps every default.
Fields Section(Checker& ck, const Fields& parent, std::string_view key,
               const std::vector<std::string_view>& allowed) {
  const Entry* e = parent.Get(key);
  YAML::Node node = e ? e->value : YAML::Node();
  Pos pos = e ? e->value_pos : parent.pos();
  return Fields(ck, node, pos, parent.PathOf(key), allowed, &kAllPaths);
}

template <typename T, typename Reader>
void Read(const Fields& f, std::string_view key, T* out, Reader reader) {
  if (const Entry* e = f.Get(key)) {
    if (auto v = reader(*e, f.PathOf(key))) *out = *v;
  }
}

// Optional values: an empty key (null) leaves them unset.
template <typename T, typename Reader>
void ReadOptional(const Fields& f, std::string_view key, std::optional<T>* out,
                  Reader reader) {
  if (const Entry* e = f.Get(key)) {
    if (e->value.IsNull()) {
      out->reset();
    } else if (auto v = reader(*e, f.PathOf(key))) {
      *out = *v;
    }
  }
}

bool ValidListen(const std::string& s) {
  Result<ListenAddress> listen = ParseListen(s);
  return listen.ok() && listen->port >= 1;
}

bool ValidConnect(const std::string& s) {
  if (s.starts_with("sim:")) return s.size() > 4;
  // libvirt URIs: driver[+transport]://[host]/path, e.g. qemu:///system.
  size_t sep = s.find("://");
  return sep != std::string::npos && sep > 0;
}

std::optional<std::vector<std::string>> ReadGlobList(Checker& ck,
                                                     const Entry& e,
                                                     const std::string& path,
                                                     bool null_is_empty) {
  if (e.value.IsNull() && null_is_empty) return std::vector<std::string>{};
  if (!e.value.IsSequence()) {
    ck.Error(e.value_pos, path,
             "must be a list of domain name globs, got " +
                 yamlcheck::Describe(e.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    Pos pos = yamlcheck::PosOf(item);
    if (pos.line == 0) pos = e.value_pos;
    auto s = yamlcheck::ReadString(ck, item, pos,
                                   path + "[" + std::to_string(i) + "]",
                                   "a domain name glob");
    if (s) {
      out.push_back(*s);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

struct OverrideRead {
  DomainOverride value;
  const Entry* min = nullptr;
  const Entry* max = nullptr;
  std::string path;
};

void ReadOverrides(Checker& ck, const Entry& e, const std::string& path,
                   std::vector<DomainOverride>* out, std::vector<Fields>* keep,
                   std::vector<OverrideRead>* reads) {
  if (e.value.IsNull()) {
    out->clear();
    return;
  }
  if (!e.value.IsSequence()) {
    ck.Error(e.value_pos, path,
             "must be a list of overrides ({match, min_mib, max_mib, shares, "
             "managed}), got " +
                 yamlcheck::Describe(e.value));
    return;
  }
  keep->reserve(e.value.size());
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    std::string item_path = path + "[" + std::to_string(i) + "]";
    Pos pos = yamlcheck::PosOf(item);
    if (pos.line == 0) pos = e.value_pos;
    if (!item.IsMap()) {
      ck.Error(pos, item_path,
               "must be a mapping with 'match' and the settings to apply, "
               "got " +
                   yamlcheck::Describe(item));
      continue;
    }
    keep->emplace_back(ck, item, pos, item_path, kOverrideKeys);
    const Fields& f = keep->back();
    OverrideRead r;
    r.path = item_path;
    if (const Entry* m = f.Get("match")) {
      if (auto s =
              yamlcheck::ReadString(ck, m->value, m->value_pos,
                                    f.PathOf("match"), "a domain name glob")) {
        r.value.match = *s;
      }
    } else {
      ck.Error(pos, f.PathOf("match"),
               "is required: the glob of domain names this override applies "
               "to");
    }
    DomainSettings& s = r.value.settings;
    ReadOptional(f, "min_mib", &s.min_mib,
                 [&](const Entry& x, const std::string& p) {
                   return yamlcheck::ReadInt(ck, x, p, kMibAtLeastZero);
                 });
    ReadOptional(f, "max_mib", &s.max_mib,
                 [&](const Entry& x, const std::string& p) {
                   return yamlcheck::ReadInt(ck, x, p, kMibAboveZero);
                 });
    ReadOptional(f, "shares", &s.shares,
                 [&](const Entry& x, const std::string& p) {
                   return yamlcheck::ReadInt(ck, x, p, kShares);
                 });
    ReadOptional(f, "managed", &s.managed,
                 [&](const Entry& x, const std::string& p) {
                   return yamlcheck::ReadBool(ck, x, p);
                 });
    r.min = f.Get("min_mib");
    r.max = f.Get("max_mib");
    reads->push_back(r);
  }
  for (const OverrideRead& r : *reads) out->push_back(r.value);
}

void ReadConfig(Checker& ck, const YAML::Node& doc, Config* cfg) {
  Fields top(ck, doc, Pos{1, 1}, "", kTopKeys, &kAllPaths);
  if (!top.valid()) return;

  auto int_reader = [&ck](const NumberSpec& spec) {
    return [&ck, &spec](const Entry& e, const std::string& p) {
      return yamlcheck::ReadInt(ck, e, p, spec);
    };
  };
  auto number_reader = [&ck](const NumberSpec& spec) {
    return [&ck, &spec](const Entry& e, const std::string& p) {
      return yamlcheck::ReadNumber(ck, e, p, spec);
    };
  };
  auto bool_reader = [&ck](const Entry& e, const std::string& p) {
    return yamlcheck::ReadBool(ck, e, p);
  };
  auto file_reader = [&ck](const Entry& e, const std::string& p) {
    return yamlcheck::ReadString(ck, e.value, e.value_pos, p, "a file path");
  };

  Read(top, "connect", &cfg->connect,
       [&ck](const Entry& e,
             const std::string& p) -> std::optional<std::string> {
         auto s = yamlcheck::ReadString(ck, e.value, e.value_pos, p,
                                        "a libvirt URI or sim:FILE");
         if (s && !ValidConnect(*s)) {
           ck.Error(e.value_pos, p,
                    "must be a libvirt URI (such as qemu:///system) or "
                    "sim:FILE, got '" +
                        *s + "'");
           return std::nullopt;
         }
         return s;
       });
  Read(top, "interval_s", &cfg->interval_s, number_reader(kInterval));
  Read(top, "policy", &cfg->policy,
       [&ck](const Entry& e,
             const std::string& p) -> std::optional<std::string> {
         if (e.value.IsScalar() && e.value.Scalar() == kOraclePolicyName) {
           ck.Error(e.value_pos, p, OracleRefusal());
           return std::nullopt;
         }
         return yamlcheck::ReadChoice(ck, e, p, kPolicies);
       });
  Read(top, "dry_run", &cfg->dry_run, bool_reader);

  Fields thresholds = Section(ck, top, "thresholds", kThresholdKeys);
  Read(thresholds, "starvation_mib", &cfg->thresholds.starvation_mib,
       int_reader(kMibAtLeastZero));
  Read(thresholds, "waste_mib", &cfg->thresholds.waste_mib,
       int_reader(kMibAtLeastZero));

  Fields guardrails = Section(ck, top, "guardrails", kGuardrailKeys);
  Read(guardrails, "guest_min_unused_mib",
       &cfg->guardrails.guest_min_unused_mib, int_reader(kMibAtLeastZero));
  Read(guardrails, "host_min_free_mib", &cfg->guardrails.host_min_free_mib,
       int_reader(kMibAtLeastZero));
  Read(guardrails, "max_release_fraction",
       &cfg->guardrails.max_release_fraction, number_reader(kFraction));
  ReadOptional(guardrails, "stale_after_s", &cfg->guardrails.stale_after_s,
               number_reader(kStaleAfter));
  Read(guardrails, "require_autodeflate",
       &cfg->guardrails.require_autodeflate, bool_reader);

  Fields host = Section(ck, top, "host", kHostKeys);
  ReadOptional(host, "guest_budget_mib", &cfg->host.guest_budget_mib,
               int_reader(kMibAboveZero));

  Fields domains = Section(ck, top, "domains", kDomainKeys);
  Read(domains, "include", &cfg->domains.include,
       [&ck](const Entry& e, const std::string& p) {
         // An empty include would silently manage nothing: refuse null.
         return ReadGlobList(ck, e, p, /*null_is_empty=*/false);
       });
  Read(domains, "exclude", &cfg->domains.exclude,
       [&ck](const Entry& e, const std::string& p) {
         return ReadGlobList(ck, e, p, /*null_is_empty=*/true);
       });
  std::vector<Fields> override_fields;
  std::vector<OverrideRead> overrides;
  if (const Entry* e = domains.Get("overrides")) {
    cfg->domains.overrides.clear();
    ReadOverrides(ck, *e, domains.PathOf("overrides"), &cfg->domains.overrides,
                  &override_fields, &overrides);
  }

  Fields web = Section(ck, top, "web", kWebKeys);
  Read(web, "listen", &cfg->web.listen,
       [&ck](const Entry& e,
             const std::string& p) -> std::optional<std::string> {
         auto s =
             yamlcheck::ReadString(ck, e.value, e.value_pos, p, "[HOST]:PORT");
         if (s && !ValidListen(*s)) {
           ck.Error(e.value_pos, p,
                    "must be [HOST]:PORT with PORT in 1-65535 (such as "
                    "\":9741\" or \"127.0.0.1:9741\"), got '" +
                        *s + "'");
           return std::nullopt;
         }
         return s;
       });
  ReadOptional(web, "tls_cert_file", &cfg->web.tls_cert_file, file_reader);
  ReadOptional(web, "tls_key_file", &cfg->web.tls_key_file, file_reader);
  ReadOptional(web, "basic_auth_file", &cfg->web.basic_auth_file, file_reader);
  Read(web, "header_timeout_s", &cfg->web.header_timeout_s,
       number_reader(kHeaderTimeout));
  Read(web, "keepalive_timeout_s", &cfg->web.keepalive_timeout_s,
       number_reader(kKeepaliveTimeout));
  Read(web, "max_connections", &cfg->web.max_connections,
       int_reader(kConnections));
  Read(web, "max_connections_per_peer", &cfg->web.max_connections_per_peer,
       int_reader(kConnections));

  Fields log = Section(ck, top, "log", kLogKeys);
  Read(log, "level", &cfg->log.level,
       [&ck](const Entry& e, const std::string& p) {
         std::vector<std::string_view> levels;
         for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                            LogLevel::kError}) {
           levels.push_back(LogLevelName(l));
         }
         return yamlcheck::ReadChoice(ck, e, p, levels);
       });

  // Relations only make sense between values that were each valid.
  if (!ck.ok()) return;

  const auto& t = cfg->thresholds;
  if (t.starvation_mib >= t.waste_mib) {
    if (const Entry* e = thresholds.Get("starvation_mib")) {
      ck.Error(e->value_pos, thresholds.PathOf("starvation_mib"),
               std::to_string(t.starvation_mib) + " is not below waste_mib " +
                   std::to_string(t.waste_mib));
    } else {
      const Entry* w = thresholds.Get("waste_mib");
      ck.Error(w ? w->value_pos : thresholds.pos(),
               thresholds.PathOf("waste_mib"),
               std::to_string(t.waste_mib) + " is not above starvation_mib " +
                   std::to_string(t.starvation_mib));
    }
  }

  for (const OverrideRead& r : overrides) {
    const DomainSettings& s = r.value.settings;
    if (s.min_mib && s.max_mib && *s.min_mib > *s.max_mib) {
      ck.Error(r.min->value_pos, r.path + ".min_mib",
               std::to_string(*s.min_mib) + " is above max_mib " +
                   std::to_string(*s.max_mib));
    } else if (s.min_mib && *s.min_mib < cfg->guardrails.guest_min_unused_mib) {
      ck.Error(r.min->value_pos, r.path + ".min_mib",
               std::to_string(*s.min_mib) +
                   " is below guardrails.guest_min_unused_mib " +
                   std::to_string(cfg->guardrails.guest_min_unused_mib));
    }
  }

  // A certificate without its key (or the reverse) cannot serve TLS; saying
  // so here beats a failed start of the web server later.
  const Entry* cert = web.Get("tls_cert_file");
  const Entry* key = web.Get("tls_key_file");
  if (cfg->web.tls_cert_file && !cfg->web.tls_key_file) {
    ck.Error(cert->value_pos, web.PathOf("tls_cert_file"),
             "is set but tls_key_file is not; TLS needs both");
  } else if (cfg->web.tls_key_file && !cfg->web.tls_cert_file) {
    ck.Error(key->value_pos, web.PathOf("tls_key_file"),
             "is set but tls_cert_file is not; TLS needs both");
  }
  if (cfg->web.max_connections_per_peer > cfg->web.max_connections) {
    const Entry* per_peer = web.Get("max_connections_per_peer");
    const Entry* total = web.Get("max_connections");
    ck.Error(per_peer ? per_peer->value_pos : total->value_pos,
             web.PathOf(per_peer ? "max_connections_per_peer"
                                 : "max_connections"),
             per_peer ? std::to_string(cfg->web.max_connections_per_peer) +
                            " is above max_connections " +
                            std::to_string(cfg->web.max_connections)
                      : std::to_string(cfg->web.max_connections) +
                            " is below max_connections_per_peer " +
                            std::to_string(cfg->web.max_connections_per_peer));
  }
}

// Double-quoted YAML string: always safe, whatever the text holds.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x",
                        static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

template <typename T>
std::string OrNull(const std::optional<T>& v) {
  if (!v) return "null";
  if constexpr (std::is_same_v<T, std::string>) {
    return Quote(*v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return *v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, double>) {
    return FormatNumber(*v);
  } else {
    return std::to_string(*v);
  }
}

std::string GlobList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    out += Quote(v[i]);
  }
  return out + "]";
}

}  // namespace

Result<Config> ParseConfig(std::string_view yaml_text,
                           std::string_view file_name) {
  Checker ck(file_name);
  Config cfg;
  yamlcheck::ReadDocument(ck, yaml_text, [&](const YAML::Node& doc) {
    ReadConfig(ck, doc, &cfg);
  });
  if (!ck.ok()) return ck.ToStatus();
  // The loader's own checks cover Validate(); this guards against the two
  // drifting apart.
  Status st = cfg.Validate();
  if (!st.ok()) {
    return Status::InvalidArgument(std::string(file_name) + ": " +
                                   st.message());
  }
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path) {
  Result<std::string> text = yamlcheck::ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

std::string DumpConfig(const Config& c) {
  std::string o;
  o += "connect: " + Quote(c.connect) + "\n";
  o += "interval_s: " + FormatNumber(c.interval_s) + "\n";
  o += "policy: " + Quote(c.policy) + "\n";
  o += std::string("dry_run: ") + (c.dry_run ? "true" : "false") + "\n";
  o += "thresholds:\n";
  o +=
      "  starvation_mib: " + std::to_string(c.thresholds.starvation_mib) + "\n";
  o += "  waste_mib: " + std::to_string(c.thresholds.waste_mib) + "\n";
  o += "guardrails:\n";
  o += "  guest_min_unused_mib: " +
       std::to_string(c.guardrails.guest_min_unused_mib) + "\n";
  o +=
      "  host_min_free_mib: " + std::to_string(c.guardrails.host_min_free_mib) +
      "\n";
  o += "  max_release_fraction: " +
       FormatNumber(c.guardrails.max_release_fraction) + "\n";
  o += "  stale_after_s: " + OrNull(c.guardrails.stale_after_s);
  if (!c.guardrails.stale_after_s) {
    o += "  # 3 x interval_s, at least 3 s = " + FormatNumber(c.stale_after_s());
  }
  o += "\n";
  o += std::string("  require_autodeflate: ") +
       (c.guardrails.require_autodeflate ? "true" : "false") + "\n";
  o += "host:\n";
  o += "  guest_budget_mib: " + OrNull(c.host.guest_budget_mib) + "\n";
  o += "domains:\n";
  o += "  include: " + GlobList(c.domains.include) + "\n";
  o += "  exclude: " + GlobList(c.domains.exclude) + "\n";
  if (c.domains.overrides.empty()) {
    o += "  overrides: []\n";
  } else {
    o += "  overrides:\n";
    for (const DomainOverride& ov : c.domains.overrides) {
      o += "    - match: " + Quote(ov.match) + "\n";
      o += "      min_mib: " + OrNull(ov.settings.min_mib) + "\n";
      o += "      max_mib: " + OrNull(ov.settings.max_mib) + "\n";
      o += "      shares: " + OrNull(ov.settings.shares) + "\n";
      o += "      managed: " + OrNull(ov.settings.managed) + "\n";
    }
  }
  o += "web:\n";
  o += "  listen: " + Quote(c.web.listen) + "\n";
  o += "  tls_cert_file: " + OrNull(c.web.tls_cert_file) + "\n";
  o += "  tls_key_file: " + OrNull(c.web.tls_key_file) + "\n";
  o += "  basic_auth_file: " + OrNull(c.web.basic_auth_file) + "\n";
  o += "  header_timeout_s: " + FormatNumber(c.web.header_timeout_s) + "\n";
  o += "  keepalive_timeout_s: " + FormatNumber(c.web.keepalive_timeout_s) +
       "\n";
  o += "  max_connections: " + std::to_string(c.web.max_connections) + "\n";
  o += "  max_connections_per_peer: " +
       std::to_string(c.web.max_connections_per_peer) + "\n";
  o += "log:\n";
  o += "  level: " + Quote(c.log.level) + "\n";
  return o;
}

}  // namespace memcoord
