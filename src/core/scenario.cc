#include "memcoord/scenario.h"

#include <cstdio>
#include <set>
#include <string>

namespace memcoord {
namespace {

// Scenario numbers are written by hand in YAML, so messages echo them the
// way they were written: 4096, not 4096.000000.
std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string Prefix(const Scenario& s) {
  if (!s.file.empty()) return s.file + ": ";
  if (!s.name.empty()) return s.name + ": ";
  return "scenario: ";
}

std::string GuestPrefix(const Scenario& s, size_t i) {
  return Prefix(s) + "guests[" + std::to_string(i) + "] (" + s.guests[i].name +
         "): ";
}

Status Bad(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

Status ValidateOp(const Scenario& s, size_t gi, size_t oi) {
  const WorkloadOp& op = s.guests[gi].workload[oi];
  const std::string where = GuestPrefix(s, gi) + "workload[" +
                            std::to_string(oi) + "] (" +
                            std::string(OpName(op.kind)) + "): ";
  if (!(op.at_s >= 0))
    return Bad(where + "at_s " + Num(op.at_s) + " is negative");
  if (op.at_s > s.duration_s) {
    return Bad(where + "at_s " + Num(op.at_s) + " is after duration_s " +
               Num(s.duration_s));
  }
  if (!(op.mib >= 0)) return Bad(where + "mib " + Num(op.mib) + " is negative");
  if (!(op.rate_mib_s >= 0)) {
    return Bad(where + "rate_mib_s " + Num(op.rate_mib_s) + " is negative");
  }
  if (oi > 0) {
    const WorkloadOp& prev = s.guests[gi].workload[oi - 1];
    if (op.at_s < prev.at_s) {
      return Bad(where + "at_s " + Num(op.at_s) + " is before workload[" +
                 std::to_string(oi - 1) + "] at_s " + Num(prev.at_s) +
                 " (ops must be in time order)");
    }
  }
  return Status::Ok();
}

Status ValidateGuest(const Scenario& s, size_t i) {
  const ScenarioGuest& g = s.guests[i];
  const std::string where = GuestPrefix(s, i);
  if (!(g.max_mib > 0)) {
    return Bad(where + "max_mib " + Num(g.max_mib) + " must be > 0");
  }
  if (!(g.start_mib > 0)) {
    return Bad(where + "start_mib " + Num(g.start_mib) + " must be > 0");
  }
  if (g.start_mib > g.max_mib) {
    return Bad(where + "start_mib " + Num(g.start_mib) + " is above max_mib " +
               Num(g.max_mib));
  }
  if (!(g.base_used_mib >= 0)) {
    return Bad(where + "base_used_mib " + Num(g.base_used_mib) +
               " is negative");
  }
  if (g.base_used_mib >= g.start_mib) {
    return Bad(where + "base_used_mib " + Num(g.base_used_mib) +
               " must be below start_mib " + Num(g.start_mib));
  }
  if (!(g.balloon_rate_mib_s > 0)) {
    return Bad(where + "balloon_rate_mib_s " + Num(g.balloon_rate_mib_s) +
               " must be > 0");
  }
  if (!(g.swap_mib >= 0)) {
    return Bad(where + "swap_mib " + Num(g.swap_mib) + " is negative");
  }
  if (g.at_s && !(*g.at_s >= 0 && *g.at_s <= s.duration_s)) {
    return Bad(where + "at_s " + Num(*g.at_s) + " is outside [0, duration_s " +
               Num(s.duration_s) + "]");
  }
  if (g.min_mib) {
    if (*g.min_mib < 0) {
      return Bad(where + "min_mib " + std::to_string(*g.min_mib) +
                 " is negative");
    }
    if (static_cast<double>(*g.min_mib) > g.max_mib) {
      return Bad(where + "min_mib " + std::to_string(*g.min_mib) +
                 " is above max_mib " + Num(g.max_mib));
    }
  }
  if (g.shares && *g.shares < 0) {
    return Bad(where + "shares " + std::to_string(*g.shares) + " is negative");
  }
  for (size_t oi = 0; oi < g.workload.size(); ++oi) {
    Status st = ValidateOp(s, i, oi);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

std::string_view OpName(WorkloadOp::Kind kind) {
  switch (kind) {
    case WorkloadOp::Kind::kAlloc:
      return "alloc";
    case WorkloadOp::Kind::kFree:
      return "free";
    case WorkloadOp::Kind::kFreeAll:
      return "free_all";
    case WorkloadOp::Kind::kCache:
      return "cache";
    case WorkloadOp::Kind::kDropCache:
      return "drop_cache";
    case WorkloadOp::Kind::kStats:
      return "stats";
    case WorkloadOp::Kind::kDestroy:
      return "destroy";
    case WorkloadOp::Kind::kStart:
      return "start";
  }
  return "unknown";
}

Status ValidateScenario(const Scenario& s) {
  const std::string where = Prefix(s);
  if (!(s.duration_s > 0)) {
    return Bad(where + "duration_s " + Num(s.duration_s) + " must be > 0");
  }
  if (!(s.interval_s > 0)) {
    return Bad(where + "interval_s " + Num(s.interval_s) + " must be > 0");
  }
  if (!(s.host_total_mib > 0)) {
    return Bad(where + "host.total_mib " + Num(s.host_total_mib) +
               " must be > 0");
  }
  if (!(s.host_used_mib > 0)) {
    return Bad(where + "host.host_used_mib " + Num(s.host_used_mib) +
               " must be > 0");
  }
  if (s.host_used_mib >= s.host_total_mib) {
    return Bad(where + "host.host_used_mib " + Num(s.host_used_mib) +
               " must be below host.total_mib " + Num(s.host_total_mib));
  }
  if (!(s.host_min_free_mib >= 0)) {
    return Bad(where + "host_min_free_mib " + Num(s.host_min_free_mib) +
               " is negative");
  }
  if (s.guest_budget_mib && *s.guest_budget_mib <= 0) {
    return Bad(where + "guest_budget_mib " +
               std::to_string(*s.guest_budget_mib) + " must be > 0");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < s.guests.size(); ++i) {
    const ScenarioGuest& g = s.guests[i];
    if (g.name.empty()) {
      return Bad(where + "guests[" + std::to_string(i) + "]: name is empty");
    }
    if (!names.insert(g.name).second) {
      return Bad(GuestPrefix(s, i) + "name '" + g.name +
                 "' is used by an earlier guest");
    }
    Status st = ValidateGuest(s, i);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace memcoord
