// Fuzz target: Enforce() on arbitrary snapshots, plans and parameters,
// including what a hypervisor should never report (unused above actual or
// negative, zero maximum, stats from the future, duplicate actions, actions
// for unknown guests). Sizes stay within +-1 PiB so that sums cannot
// overflow; within that, the guarded plan must pass Violations(), never
// reverse or enlarge an action, and never end outside [floor, ceiling].
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_input.h"
#include "memcoord/guardrails.h"
#include "memcoord/model.h"

namespace {

constexpr int64_t kPiB = int64_t{1} << 40;  // in KiB

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "guardrails: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  memcoord::fuzz::FuzzInput in(data, size);
  auto size_kib = [&]() -> int64_t {
    switch (in.Byte() % 3) {
      case 0: return in.Range(0, int64_t{16} << 20);   // up to 16 GiB
      case 1: return in.Range(-4096, 4096);
      default: return in.Range(-kPiB, kPiB);
    }
  };
  memcoord::GuardrailParams rails;
  rails.guest_min_unused_kib = in.Range(0, int64_t{1} << 20);
  rails.host_min_free_kib = in.Range(0, int64_t{4} << 20);
  rails.max_release_fraction = static_cast<double>(in.Range(1, 1000)) / 1000.0;
  rails.stale_after_s = static_cast<double>(in.Range(1, 100)) / 4.0;
  if (in.Bool()) rails.guest_budget_kib = in.Range(1, int64_t{64} << 20);
  rails.require_autodeflate = in.Bool();

  memcoord::Snapshot snap;
  snap.time_s = static_cast<double>(in.Range(0, 1000));
  snap.host.total_kib = in.Range(0, kPiB);
  snap.host.free_kib = size_kib();
  snap.host.available_kib = snap.host.free_kib + size_kib() / 2;
  const int guests = static_cast<int>(in.Range(0, 6));
  for (int i = 0; i < guests; ++i) {
    memcoord::GuestSample g;
    g.name = "vm" + std::to_string(i);
    g.actual_kib = in.Range(1, kPiB / 8);
    g.maximum_kib = in.Bool() ? g.actual_kib + in.Range(0, int64_t{8} << 20) : size_kib();
    if (g.maximum_kib < 0) g.maximum_kib = 0;
    if (in.Byte() % 8 != 0) {
      g.unused_kib = size_kib();
      if (in.Bool()) g.usable_kib = size_kib();
      if (in.Bool()) g.stats_time_s = static_cast<double>(in.Range(0, 1200));
    }
    g.limits.floor_kib = in.Range(0, int64_t{8} << 20);
    if (in.Bool()) g.limits.max_kib = in.Range(0, int64_t{16} << 20);
    g.limits.managed = in.Byte() % 8 != 0;
    if (in.Byte() % 3 != 0) g.balloon.autodeflate = in.Bool();
    snap.guests.push_back(g);
  }
  memcoord::Plan plan;
  const int actions = static_cast<int>(in.Range(0, 8));
  for (int i = 0; i < actions; ++i) {
    memcoord::Action a;
    a.domain = "vm" + std::to_string(in.Range(0, 7));
    const memcoord::GuestSample* g = snap.Find(a.domain);
    a.from_kib = g ? g->actual_kib : in.Range(0, kPiB);
    a.target_kib = in.Bool() && g ? g->actual_kib + size_kib() : in.Range(0, kPiB);
    a.reason = static_cast<memcoord::Reason>(in.Range(0, 6));
    plan.actions.push_back(a);
  }

  const memcoord::GuardedPlan out = memcoord::Enforce(plan, snap, rails);
  for (const std::string& v : memcoord::Violations(out.plan, snap, rails)) Fail(v);
  for (const memcoord::Action& a : out.plan.actions) {
    const memcoord::GuestSample* g = snap.Find(a.domain);
    if (g == nullptr) Fail(a.domain + ": action for an unknown guest");
    if (a.from_kib != g->actual_kib) Fail(a.domain + ": from is not actual");
    if (a.target_kib == g->actual_kib) Fail(a.domain + ": empty action");
    const memcoord::Action* p = plan.Find(a.domain);  // the first one wins
    if (p == nullptr) Fail(a.domain + ": invented");
    if ((p->target_kib > g->actual_kib) != a.grow()) Fail(a.domain + ": reversed");
    if (std::llabs(a.delta_kib()) > std::llabs(p->target_kib - g->actual_kib)) {
      Fail(a.domain + ": enlarged");
    }
    if (a.grow() && a.target_kib > g->ceiling_kib()) Fail(a.domain + ": above ceiling");
    if (!a.grow() && a.target_kib < g->limits.floor_kib) Fail(a.domain + ": below floor");
  }
  // Every action dropped or lowered is counted under some rule.
  if (out.plan.actions.size() < plan.actions.size() && out.clamps.total() == 0) {
    bool all_noop_or_duplicate = true;
    for (size_t i = 0; i < plan.actions.size(); ++i) {
      const memcoord::Action& p = plan.actions[i];
      const memcoord::GuestSample* g = snap.Find(p.domain);
      const bool first = plan.Find(p.domain) == &plan.actions[i];
      if (first && (g == nullptr || p.target_kib != g->actual_kib) &&
          out.plan.Find(p.domain) == nullptr) {
        all_noop_or_duplicate = false;
      }
    }
    if (!all_noop_or_duplicate) Fail("an action was dropped without a count");
  }
  return 0;
}
