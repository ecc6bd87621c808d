#include "memcoord/scenario_loader.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/config/yaml_check.h"

namespace memcoord {
namespace {

using yamlcheck::Checker;
using yamlcheck::Entry;
using yamlcheck::Fields;
using yamlcheck::FormatNumber;
using yamlcheck::NumberSpec;
using yamlcheck::Pos;

constexpr double kMaxMib = 64.0 * 1024 * 1024;  // 64 TiB, as for the config
constexpr double kMaxDurationS = 31.0 * 24 * 3600;
constexpr double kMaxRateMibS = 1024.0 * 1024;

const NumberSpec kMibAboveZero = NumberSpec::Above("MiB", 0, kMaxMib);
const NumberSpec kMibAtLeastZero = NumberSpec::AtLeast("MiB", 0, kMaxMib);
const NumberSpec kRateAboveZero = NumberSpec::Above("MiB/s", 0, kMaxRateMibS);
const NumberSpec kRateAtLeastZero =
    NumberSpec::AtLeast("MiB/s", 0, kMaxRateMibS);
const NumberSpec kDuration =
    NumberSpec::Between("seconds", 0, true, kMaxDurationS);
const NumberSpec kInterval = NumberSpec::Between("seconds", 0, true, 3600);
const NumberSpec kTime = NumberSpec::AtLeast("seconds", 0, kMaxDurationS);
const NumberSpec kShares = NumberSpec::Between(nullptr, 0, false, 50000);

const std::vector<std::string_view> kTopKeys = {
    "name",     "duration_s", "interval_s",      "host",
    "defaults", "guests",     "guest_budget_mib"};
const std::vector<std::string_view> kHostKeys = {"total_mib", "host_used_mib"};
const std::vector<std::string_view> kGuestKeys = {
    "name",      "at_s",          "max_mib",
    "start_mib", "base_used_mib", "balloon_rate_mib_s",
    "swap_mib",  "stats",         "min_mib",
    "shares",    "autodeflate",   "workload"};
const std::vector<std::string_view> kDefaultKeys = {
    "at_s",     "max_mib", "start_mib", "base_used_mib", "balloon_rate_mib_s",
    "swap_mib", "stats",   "min_mib",   "shares",        "autodeflate",
    "workload"};
const std::vector<std::string_view> kOpKeys = {"at_s", "op", "mib",
                                               "rate_mib_s", "on"};

struct OpInfo {
  std::string_view name;
  WorkloadOp::Kind kind;
  bool sized;  // takes mib (required) and rate_mib_s (optional)
  bool takes_on;
};
constexpr OpInfo kOps[] = {
    {"alloc", WorkloadOp::Kind::kAlloc, true, false},
    {"free", WorkloadOp::Kind::kFree, true, false},
    {"free_all", WorkloadOp::Kind::kFreeAll, false, false},
    {"cache", WorkloadOp::Kind::kCache, true, false},
    {"drop_cache", WorkloadOp::Kind::kDropCache, false, false},
    {"stats", WorkloadOp::Kind::kStats, false, true},
    {"destroy", WorkloadOp::Kind::kDestroy, false, false},
    {"start", WorkloadOp::Kind::kStart, false, false},
};

std::vector<std::string_view> OpNames() {
  std::vector<std::string_view> names;
  for (const OpInfo& o : kOps) names.push_back(o.name);
  return names;
}

// Where a guest's value came from, so that an error about a relation points
// at the line the author wrote rather than at a default.
enum class Origin { kBuiltin, kDefaults, kGuest };
struct Source {
  Origin origin = Origin::kBuiltin;
  Pos pos;
};

struct ReadOp {
  WorkloadOp op;
  Pos at_pos;
};

// A guest as read so far: values plus where each came from.
struct GuestRead {
  ScenarioGuest guest;
  std::map<std::string, Source, std::less<>> source;
  std::vector<ReadOp> workload;
  Pos pos;  // the guest's entry in `guests`
};

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

void ReadWorkload(Checker& ck, const Entry& e, const std::string& path,
                  std::vector<ReadOp>* out) {
  out->clear();
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence()) {
    ck.Error(e.value_pos, path,
             "must be a list of ops ({at_s, op, ...}), got " +
                 yamlcheck::Describe(e.value));
    return;
  }
  for (size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    std::string op_path = Index(path, i);
    Pos pos = yamlcheck::PosOf(item);
    if (pos.line == 0) pos = e.value_pos;
    if (!item.IsMap()) {
      ck.Error(pos, op_path,
               "must be a mapping such as {at_s: 10, op: alloc, mib: 512}, "
               "got " +
                   yamlcheck::Describe(item));
      continue;
    }
    Fields f(ck, item, pos, op_path, kOpKeys);
    ReadOp r;
    bool ok = true;
    if (const Entry* at = f.Get("at_s")) {
      r.at_pos = at->value_pos;
      if (auto v = yamlcheck::ReadNumber(ck, *at, f.PathOf("at_s"), kTime)) {
        r.op.at_s = *v;
      } else {
        ok = false;
      }
    } else {
      ck.Error(pos, f.PathOf("at_s"), "is required: when the op happens");
      ok = false;
    }
    const OpInfo* info = nullptr;
    if (const Entry* op = f.Get("op")) {
      if (auto name =
              yamlcheck::ReadChoice(ck, *op, f.PathOf("op"), OpNames())) {
        for (const OpInfo& o : kOps) {
          if (o.name == *name) info = &o;
        }
      }
    } else {
      ck.Error(pos, f.PathOf("op"), "is required: one of alloc, free, ...");
    }
    if (!info) continue;
    r.op.kind = info->kind;
    for (const Entry& k : f.entries()) {
      bool applies =
          k.key == "at_s" || k.key == "op" ||
          (info->sized && (k.key == "mib" || k.key == "rate_mib_s")) ||
          (info->takes_on && k.key == "on");
      if (!applies) {
        ck.Error(k.key_pos, f.PathOf(k.key),
                 "does not apply to op '" + std::string(info->name) + "'");
        ok = false;
      }
    }
    if (info->sized) {
      if (const Entry* mib = f.Get("mib")) {
        if (auto v = yamlcheck::ReadNumber(ck, *mib, f.PathOf("mib"),
                                           kMibAboveZero)) {
          r.op.mib = *v;
        } else {
          ok = false;
        }
      } else {
        ck.Error(pos, f.PathOf("mib"),
                 "is required for op '" + std::string(info->name) + "'");
        ok = false;
      }
      if (const Entry* rate = f.Get("rate_mib_s")) {
        if (auto v = yamlcheck::ReadNumber(ck, *rate, f.PathOf("rate_mib_s"),
                                           kRateAtLeastZero)) {
          r.op.rate_mib_s = *v;
        } else {
          ok = false;
        }
      }
    }
    if (info->takes_on) {
      if (const Entry* on = f.Get("on")) {
        if (auto v = yamlcheck::ReadBool(ck, *on, f.PathOf("on"))) {
          r.op.on = *v;
        } else {
          ok = false;
        }
      } else {
        ck.Error(pos, f.PathOf("on"), "is required for op 'stats'");
        ok = false;
      }
    }
    if (ok) out->push_back(r);
  }
}

// Applies the keys of one mapping (`defaults` or a guest) on top of `g`.
void ReadGuestKeys(Checker& ck, const Fields& f, Origin origin, GuestRead* g) {
  auto number = [&](std::string_view key, double* out, const NumberSpec& spec) {
    const Entry* e = f.Get(key);
    if (!e) return;
    if (auto v = yamlcheck::ReadNumber(ck, *e, f.PathOf(key), spec)) {
      *out = *v;
      g->source[std::string(key)] = Source{origin, e->value_pos};
    }
  };
  auto integer = [&](std::string_view key, std::optional<int64_t>* out,
                     const NumberSpec& spec) {
    const Entry* e = f.Get(key);
    if (!e) return;
    if (e->value.IsNull()) {
      out->reset();
      g->source[std::string(key)] = Source{origin, e->value_pos};
    } else if (auto v = yamlcheck::ReadInt(ck, *e, f.PathOf(key), spec)) {
      *out = *v;
      g->source[std::string(key)] = Source{origin, e->value_pos};
    }
  };
  ScenarioGuest& s = g->guest;
  number("max_mib", &s.max_mib, kMibAboveZero);
  number("start_mib", &s.start_mib, kMibAboveZero);
  number("base_used_mib", &s.base_used_mib, kMibAtLeastZero);
  number("balloon_rate_mib_s", &s.balloon_rate_mib_s, kRateAboveZero);
  number("swap_mib", &s.swap_mib, kMibAtLeastZero);
  if (const Entry* e = f.Get("at_s")) {
    if (auto v = yamlcheck::ReadNumber(ck, *e, f.PathOf("at_s"), kTime)) {
      s.at_s = *v;
      g->source["at_s"] = Source{origin, e->value_pos};
    }
  }
  if (const Entry* e = f.Get("stats")) {
    if (auto v = yamlcheck::ReadBool(ck, *e, f.PathOf("stats"))) s.stats = *v;
  }
  if (const Entry* e = f.Get("autodeflate")) {
    if (auto v = yamlcheck::ReadBool(ck, *e, f.PathOf("autodeflate"))) {
      s.autodeflate = *v;
    }
  }
  integer("min_mib", &s.min_mib, kMibAtLeastZero);
  integer("shares", &s.shares, kShares);
  if (const Entry* e = f.Get("workload")) {
    ReadWorkload(ck, *e, f.PathOf("workload"), &g->workload);
    g->source["workload"] = Source{origin, e->value_pos};
  }
}

// Where to report a relation between `a` and `b` of one guest: the value
// written on the guest itself if either is, else the one from `defaults`.
Pos RelationPos(const GuestRead& g, std::string_view a, std::string_view b) {
  auto find = [&g](std::string_view k) -> const Source* {
    auto it = g.source.find(k);
    return it == g.source.end() ? nullptr : &it->second;
  };
  const Source* sa = find(a);
  const Source* sb = find(b);
  for (Origin o : {Origin::kGuest, Origin::kDefaults}) {
    if (sa && sa->origin == o) return sa->pos;
    if (sb && sb->origin == o) return sb->pos;
  }
  return g.pos;
}

void CheckGuest(Checker& ck, const Scenario& sc, const GuestRead& g,
                const std::string& path) {
  const ScenarioGuest& s = g.guest;
  if (s.start_mib > s.max_mib) {
    ck.Error(RelationPos(g, "start_mib", "max_mib"), path + ".start_mib",
             FormatNumber(s.start_mib) + " is above max_mib " +
                 FormatNumber(s.max_mib));
  }
  if (s.base_used_mib >= s.start_mib) {
    ck.Error(RelationPos(g, "base_used_mib", "start_mib"),
             path + ".base_used_mib",
             FormatNumber(s.base_used_mib) + " is not below start_mib " +
                 FormatNumber(s.start_mib));
  }
  if (s.min_mib && static_cast<double>(*s.min_mib) > s.max_mib) {
    ck.Error(RelationPos(g, "min_mib", "max_mib"), path + ".min_mib",
             std::to_string(*s.min_mib) + " is above max_mib " +
                 FormatNumber(s.max_mib));
  }
  double start_s = s.at_s.value_or(0);
  if (start_s > sc.duration_s) {
    ck.Error(RelationPos(g, "at_s", "at_s"), path + ".at_s",
             FormatNumber(start_s) + " is after duration_s " +
                 FormatNumber(sc.duration_s));
  }
  for (size_t i = 0; i < g.workload.size(); ++i) {
    const ReadOp& r = g.workload[i];
    std::string at_path = Index(path + ".workload", i) + ".at_s";
    if (r.op.at_s > sc.duration_s) {
      ck.Error(r.at_pos, at_path,
               FormatNumber(r.op.at_s) + " is after duration_s " +
                   FormatNumber(sc.duration_s));
    } else if (i > 0 && r.op.at_s < g.workload[i - 1].op.at_s) {
      ck.Error(r.at_pos, at_path,
               FormatNumber(r.op.at_s) + " is before the previous op's at_s " +
                   FormatNumber(g.workload[i - 1].op.at_s) +
                   "; ops must be in time order");
    } else if (r.op.at_s < start_s) {
      ck.Error(r.at_pos, at_path,
               FormatNumber(r.op.at_s) + " is before the guest starts (at_s " +
                   FormatNumber(start_s) + ")");
    }
  }
}

void ReadScenario(Checker& ck, const YAML::Node& doc, Scenario* sc) {
  Fields top(ck, doc, Pos{1, 1}, "", kTopKeys);
  if (!top.valid()) return;

  if (const Entry* e = top.Get("name")) {
    if (auto s = yamlcheck::ReadString(ck, e->value, e->value_pos, "name",
                                       "the scenario's name")) {
      sc->name = *s;
    }
  }
  const Entry* duration = top.Get("duration_s");
  if (duration) {
    if (auto v =
            yamlcheck::ReadNumber(ck, *duration, "duration_s", kDuration)) {
      sc->duration_s = *v;
    }
  }
  const Entry* interval = top.Get("interval_s");
  if (interval) {
    if (auto v =
            yamlcheck::ReadNumber(ck, *interval, "interval_s", kInterval)) {
      sc->interval_s = *v;
    }
  }
  if (const Entry* e = top.Get("guest_budget_mib")) {
    if (e->value.IsNull()) {
      sc->guest_budget_mib.reset();
    } else if (auto v = yamlcheck::ReadInt(ck, *e, "guest_budget_mib",
                                           kMibAboveZero)) {
      sc->guest_budget_mib = *v;
    }
  }

  const Entry* host_entry = top.Get("host");
  Fields host(ck, host_entry ? host_entry->value : YAML::Node(),
              host_entry ? host_entry->value_pos : Pos{1, 1}, "host",
              kHostKeys);
  const Entry* total = host.Get("total_mib");
  const Entry* used = host.Get("host_used_mib");
  if (total) {
    if (auto v = yamlcheck::ReadNumber(ck, *total, "host.total_mib",
                                       kMibAboveZero)) {
      sc->host_total_mib = *v;
    }
  }
  if (used) {
    if (auto v = yamlcheck::ReadNumber(ck, *used, "host.host_used_mib",
                                       kMibAboveZero)) {
      sc->host_used_mib = *v;
    }
  }

  GuestRead defaults;
  defaults.pos = Pos{1, 1};
  if (const Entry* e = top.Get("defaults")) {
    Fields f(ck, e->value, e->value_pos, "defaults", kDefaultKeys);
    defaults.pos = e->value_pos;
    ReadGuestKeys(ck, f, Origin::kDefaults, &defaults);
  }

  std::vector<GuestRead> guests;
  const Entry* guests_entry = top.Get("guests");
  if (!guests_entry) {
    ck.Error(Pos{1, 1}, "guests", "is required: the list of guests");
  } else if (!guests_entry->value.IsSequence() ||
             guests_entry->value.size() == 0) {
    ck.Error(guests_entry->value_pos, "guests",
             "must be a list of at least one guest ({name: vm1, ...}), got " +
                 yamlcheck::Describe(guests_entry->value));
  } else {
    std::map<std::string, size_t, std::less<>> seen;
    const YAML::Node& list = guests_entry->value;
    for (size_t i = 0; i < list.size(); ++i) {
      YAML::Node item = list[i];
      std::string path = Index("guests", i);
      Pos pos = yamlcheck::PosOf(item);
      if (pos.line == 0) pos = guests_entry->value_pos;
      if (!item.IsMap()) {
        ck.Error(pos, path,
                 "must be a mapping with at least a name, got " +
                     yamlcheck::Describe(item));
        continue;
      }
      Fields f(ck, item, pos, path, kGuestKeys);
      GuestRead g = defaults;
      g.pos = pos;
      if (const Entry* n = f.Get("name")) {
        if (auto s = yamlcheck::ReadString(ck, n->value, n->value_pos,
                                           f.PathOf("name"),
                                           "the guest's domain name")) {
          auto [it, inserted] = seen.emplace(*s, i);
          if (inserted) {
            g.guest.name = *s;
          } else {
            ck.Error(n->value_pos, f.PathOf("name"),
                     "'" + *s + "' is already the name of guests[" +
                         std::to_string(it->second) + "]");
          }
        }
      } else {
        ck.Error(pos, f.PathOf("name"), "is required: the guest's name");
      }
      ReadGuestKeys(ck, f, Origin::kGuest, &g);
      guests.push_back(std::move(g));
    }
  }

  // Relations only between values that were each valid.
  if (!ck.ok()) return;

  if (interval && sc->interval_s > sc->duration_s) {
    ck.Error(interval->value_pos, "interval_s",
             FormatNumber(sc->interval_s) + " is above duration_s " +
                 FormatNumber(sc->duration_s));
  }
  if (sc->host_used_mib >= sc->host_total_mib) {
    ck.Error(used ? used->value_pos : (total ? total->value_pos : host.pos()),
             "host.host_used_mib",
             FormatNumber(sc->host_used_mib) + " is not below total_mib " +
                 FormatNumber(sc->host_total_mib));
  } else {
    // Guests running from the start must fit beside the host's own use.
    double at_zero = sc->host_used_mib;
    for (const GuestRead& g : guests) {
      if (g.guest.at_s.value_or(0) == 0) at_zero += g.guest.start_mib;
    }
    if (at_zero > sc->host_total_mib) {
      ck.Error(total ? total->value_pos : host.pos(), "host.total_mib",
               FormatNumber(sc->host_total_mib) +
                   " is below host_used_mib plus the start_mib of the guests "
                   "running at 0 s (" +
                   FormatNumber(at_zero) + ")");
    }
  }
  for (size_t i = 0; i < guests.size(); ++i) {
    CheckGuest(ck, *sc, guests[i], Index("guests", i));
  }
  if (!ck.ok()) return;

  for (GuestRead& g : guests) {
    for (const ReadOp& r : g.workload) g.guest.workload.push_back(r.op);
    sc->guests.push_back(std::move(g.guest));
  }
}

// "tests/scenarios/classic-1.yaml" -> "classic-1".
std::string BaseName(std::string_view file) {
  size_t slash = file.rfind('/');
  if (slash != std::string_view::npos) file.remove_prefix(slash + 1);
  size_t dot = file.rfind('.');
  if (dot != std::string_view::npos && dot > 0) file = file.substr(0, dot);
  return std::string(file);
}

}  // namespace

Result<Scenario> ParseScenario(std::string_view yaml_text,
                               std::string_view file_name) {
  Checker ck(file_name);
  Scenario sc;
  sc.file = std::string(file_name);
  sc.name = BaseName(file_name);
  yamlcheck::ReadDocument(ck, yaml_text, [&](const YAML::Node& doc) {
    ReadScenario(ck, doc, &sc);
  });
  if (!ck.ok()) return ck.ToStatus();
  // The located checks above cover the core's; this keeps the two honest.
  Status st = ValidateScenario(sc);
  if (!st.ok()) return st;
  return sc;
}

Result<Scenario> LoadScenarioFile(const std::string& path) {
  Result<std::string> text = yamlcheck::ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseScenario(*text, path);
}

}  // namespace memcoord
