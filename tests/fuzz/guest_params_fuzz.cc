// Fuzz target: the conversion of one guest's libvirt typed parameters into a
// GuestSample (GuestSampleFromParams), then that sample through the
// guardrails. Checks the contract of guest_params.h: a sample it returns has
// a positive balloon size; guest statistics it keeps are plausible (maximum
// above zero, current and available within it, unused and usable within
// what the guest has); statistics it drops are all empty and come with a
// reason. And whatever it returns, Enforce() keeps every guardrail.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "guest_params.h"
#include "memcoord/guardrails.h"
#include "memcoord/model.h"

namespace {

using memcoord::TypedParam;

const char* const kNames[] = {
    "balloon.current",   "balloon.maximum",     "balloon.rss",
    "balloon.unused",    "balloon.usable",      "balloon.available",
    "balloon.swap_in",   "balloon.swap_out",    "balloon.major_fault",
    "balloon.minor_fault", "balloon.last-update", "balloon.disk_caches",
    "state.state",
};

int64_t Value(memcoord::fuzz::FuzzInput& in) {
  // Mostly sizes a guest could have, sometimes anything.
  switch (in.Byte() % 4) {
    case 0: return in.Range(0, int64_t{64} << 20);
    case 1: return in.Range(-1024, 1024);
    case 2: return in.Range(0, int64_t{1} << 40);
    default: return in.I64();
  }
}

TypedParam Param(memcoord::fuzz::FuzzInput& in) {
  TypedParam p;
  const uint8_t which = in.Byte();
  p.name = which < 240 ? kNames[which % std::size(kNames)] : in.String(24);
  p.type = static_cast<TypedParam::Type>(in.Byte() % 7);
  // Usually the value matches the declared type; sometimes it does not.
  int kind = static_cast<int>(p.type);
  if (in.Byte() % 16 == 0) kind = in.Byte() % 7;
  switch (kind) {
    case 0: case 2: p.value = Value(in); break;
    case 1: case 3: p.value = static_cast<uint64_t>(Value(in)); break;
    case 4: p.value = in.Double(); break;
    case 5: p.value = in.Bool(); break;
    default: p.value = in.String(16); break;
  }
  return p;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "guest_params contract broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  memcoord::fuzz::FuzzInput in(data, size);
  std::vector<TypedParam> params;
  const int n = in.Byte() % 24;
  for (int i = 0; i < n && !in.empty(); ++i) params.push_back(Param(in));

  std::string dropped = "unset";
  memcoord::Result<memcoord::GuestSample> r =
      memcoord::GuestSampleFromParams("vm", params, &dropped);
  if (!r.ok()) {
    if (r.status().code() != memcoord::Status::Code::kInvalidArgument) Fail("error code");
    return 0;
  }
  memcoord::GuestSample g = *r;
  if (g.actual_kib <= 0) Fail("non-positive balloon.current accepted");
  if (dropped == "unset") Fail("dropped_reason not written");
  const bool any_guest_field = g.unused_kib || g.usable_kib || g.memtotal_kib ||
                               g.swap_in_kib || g.swap_out_kib || g.major_faults ||
                               g.minor_faults || g.stats_time_s;
  if (!dropped.empty()) {
    if (any_guest_field) Fail("statistics dropped but fields left");
  } else {
    if (g.maximum_kib <= 0) Fail("statistics kept with a zero maximum");
    if (g.actual_kib > g.maximum_kib) Fail("statistics kept with current above maximum");
    const int64_t bound = g.memtotal_kib.value_or(g.actual_kib);
    if (g.memtotal_kib && *g.memtotal_kib > g.maximum_kib) Fail("available above maximum");
    if (g.unused_kib && (*g.unused_kib < 0 || *g.unused_kib > bound)) Fail("unused out of range");
    if (g.usable_kib && (*g.usable_kib < 0 || *g.usable_kib > bound)) Fail("usable out of range");
    for (const auto* f : {&g.swap_in_kib, &g.swap_out_kib, &g.major_faults, &g.minor_faults}) {
      if (*f && **f < 0) Fail("negative counter kept");
    }
  }
  if (g.rss_kib && *g.rss_kib < 0) Fail("negative rss");

  // The sample through the guardrails, with an action the input chooses.
  g.limits.floor_kib = in.Range(0, int64_t{8} << 20);
  if (in.Bool()) g.limits.max_kib = in.Range(0, int64_t{8} << 20);
  memcoord::Snapshot snap;
  snap.time_s = g.stats_time_s.value_or(0) + static_cast<double>(in.Range(0, 20));
  snap.host.total_kib = int64_t{64} << 20;
  snap.host.free_kib = in.Range(0, int64_t{64} << 20);
  snap.host.available_kib = snap.host.free_kib;
  snap.guests.push_back(g);
  memcoord::Plan plan;
  memcoord::Action a;
  a.domain = "vm";
  a.from_kib = g.actual_kib;
  a.target_kib = in.Range(0, int64_t{1} << 41);
  plan.actions.push_back(a);
  memcoord::GuardrailParams rails;
  memcoord::GuardedPlan out = memcoord::Enforce(plan, snap, rails);
  if (!memcoord::Violations(out.plan, snap, rails).empty()) Fail("guardrail violated");
  for (const memcoord::Action& o : out.plan.actions) {
    if (o.grow() && o.target_kib > g.ceiling_kib()) Fail("above ceiling");
    if (!o.grow() && o.target_kib < g.limits.floor_kib) Fail("below floor");
    if (o.target_kib < 0) Fail("negative target");
  }
  return 0;
}
