#include "memcoord/guardrails.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace memcoord {
namespace {

bool StatsFresh(const GuestSample& g, double now_s, double stale_after_s) {
  if (!g.has_stats()) return false;
  // A hypervisor that does not say when stats were taken is trusted.
  if (!g.stats_time_s) return true;
  return now_s - *g.stats_time_s <= stale_after_s;
}

// The most one shrink may take from a guest under G3.
int64_t ReleaseCap(int64_t unused_kib, double fraction) {
  return static_cast<int64_t>(std::floor(static_cast<double>(unused_kib) * fraction));
}

// A guest whose balloon gives memory back by itself when the guest runs out
// (QEMU deflate-on-oom); unknown counts as not.
bool Autodeflates(const GuestSample& g) {
  return g.balloon.autodeflate.value_or(false);
}

int64_t SumActual(const Snapshot& s) {
  int64_t sum = 0;
  for (const GuestSample& g : s.guests) sum += g.actual_kib;
  return sum;
}

// Guests by name, built once per plan: Snapshot::Find is a linear scan, and a
// plan can hold an action for every guest, which made Enforce quadratic. One
// open-addressing table (a single allocation; a node per guest cost more than
// the rest of Enforce at 10,000 guests). The first guest of a name wins, as
// with Find. Points into `s`, which must outlive the index.
class GuestIndex {
 public:
  struct Slot {
    const GuestSample* guest = nullptr;
    bool acted = false;  // an action for this guest was already taken
  };

  explicit GuestIndex(const Snapshot& s) {
    size_t capacity = 16;
    while (capacity < 2 * s.guests.size()) capacity <<= 1;
    slots_.resize(capacity);
    mask_ = capacity - 1;
    for (const GuestSample& g : s.guests) {
      Slot& slot = Probe(g.name);
      if (slot.guest == nullptr) slot.guest = &g;
    }
  }

  // The slot of the guest called `name`, or nullptr.
  Slot* Find(std::string_view name) {
    Slot& slot = Probe(name);
    return slot.guest == nullptr ? nullptr : &slot;
  }

 private:
  // The slot holding `name`, or the empty slot where it would go.
  Slot& Probe(std::string_view name) {
    size_t i = std::hash<std::string_view>{}(name) & mask_;
    while (slots_[i].guest != nullptr && slots_[i].guest->name != name) {
      i = (i + 1) & mask_;
    }
    return slots_[i];
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kUnmanaged:
      return "unmanaged";
    case Rule::kStale:
      return "stale_stats";
    case Rule::kBounds:
      return "bounds";
    case Rule::kGuestMinUnused:
      return "guest_min_unused";
    case Rule::kMaxRelease:
      return "max_release_fraction";
    case Rule::kHostMinFree:
      return "host_min_free";
    case Rule::kBudget:
      return "guest_budget";
    case Rule::kAutodeflate:
      return "autodeflate";
    case Rule::kCount:
      break;
  }
  return "unknown";
}

int64_t ClampCounts::total() const {
  int64_t t = 0;
  for (int64_t c : by_rule) t += c;
  return t;
}

GuardedPlan Enforce(const Plan& plan, const Snapshot& snapshot,
                    const GuardrailParams& params) {
  GuardedPlan out;
  int64_t host_headroom = snapshot.host.available_kib - params.host_min_free_kib;
  int64_t budget_headroom = std::numeric_limits<int64_t>::max();
  if (params.guest_budget_kib) {
    budget_headroom = *params.guest_budget_kib - SumActual(snapshot);
  }
  GuestIndex guests(snapshot);
  std::unordered_set<std::string_view> unknown;  // actions for absent guests
  for (const Action& proposed : plan.actions) {
    GuestIndex::Slot* slot = guests.Find(proposed.domain);
    if (slot == nullptr) {
      // No sample at all: the stalest of stats (counted once per domain, as
      // the first action for a domain wins).
      if (unknown.insert(proposed.domain).second) ++out.clamps[Rule::kStale];
      continue;
    }
    if (slot->acted) continue;  // first action wins
    slot->acted = true;
    const GuestSample* g = slot->guest;
    if (!g->limits.managed) {
      ++out.clamps[Rule::kUnmanaged];
      continue;
    }
    if (!StatsFresh(*g, snapshot.time_s, params.stale_after_s)) {
      ++out.clamps[Rule::kStale];
      continue;
    }
    Action a = proposed;
    a.from_kib = g->actual_kib;
    const int64_t actual = g->actual_kib;
    if (a.target_kib == actual) continue;
    const bool grow = a.target_kib > actual;

    // G4: never past the bound in the direction of travel, never reversing.
    if (grow && a.target_kib > g->ceiling_kib()) {
      a.target_kib = std::max(g->ceiling_kib(), actual);
      ++out.clamps[Rule::kBounds];
    } else if (!grow && a.target_kib < g->limits.floor_kib) {
      a.target_kib = std::min(g->limits.floor_kib, actual);
      ++out.clamps[Rule::kBounds];
    }
    if (a.target_kib == actual) continue;

    if (!grow && params.require_autodeflate && !Autodeflates(*g)) {
      ++out.clamps[Rule::kAutodeflate];
      continue;
    }

    if (!grow) {
      const int64_t unused = *g->unused_kib;
      // G1: keep guest_min_unused free inside the guest.
      const int64_t g1_cap = unused - params.guest_min_unused_kib;
      if (g1_cap <= 0) {
        ++out.clamps[Rule::kGuestMinUnused];
        continue;
      }
      if (actual - a.target_kib > g1_cap) {
        a.target_kib = actual - g1_cap;
        ++out.clamps[Rule::kGuestMinUnused];
      }
      // G3: release gradually.
      const int64_t g3_cap = ReleaseCap(unused, params.max_release_fraction);
      if (actual - a.target_kib > g3_cap) {
        a.target_kib = actual - g3_cap;
        ++out.clamps[Rule::kMaxRelease];
      }
      if (a.target_kib >= actual) continue;
    } else {
      int64_t need = a.target_kib - actual;
      // G2: the host keeps its reserve; growth is granted in plan order.
      if (host_headroom <= 0) {
        ++out.clamps[Rule::kHostMinFree];
        continue;
      }
      if (need > host_headroom) {
        need = host_headroom;
        ++out.clamps[Rule::kHostMinFree];
      }
      // G6: the sum of guest memory stays within the budget.
      if (budget_headroom <= 0) {
        ++out.clamps[Rule::kBudget];
        continue;
      }
      if (need > budget_headroom) {
        need = budget_headroom;
        ++out.clamps[Rule::kBudget];
      }
      host_headroom -= need;
      budget_headroom -= need;
      a.target_kib = actual + need;
    }
    out.plan.actions.push_back(a);
  }
  return out;
}

std::vector<std::string> Violations(const Plan& plan, const Snapshot& snapshot,
                                    const GuardrailParams& params) {
  std::vector<std::string> v;
  int64_t growth = 0;
  GuestIndex guests(snapshot);
  for (const Action& a : plan.actions) {
    const GuestIndex::Slot* slot = guests.Find(a.domain);
    const GuestSample* g = slot == nullptr ? nullptr : slot->guest;
    std::string who = "domain " + a.domain + ": ";
    if (g == nullptr) {
      v.push_back(who + "action for a guest not in the snapshot");
      continue;
    }
    if (!g->limits.managed) v.push_back(who + "action on an unmanaged guest");
    if (!StatsFresh(*g, snapshot.time_s, params.stale_after_s)) {
      v.push_back(who + "G5: action without fresh stats");
      continue;
    }
    const int64_t actual = g->actual_kib;
    if (a.target_kib < actual) {
      const int64_t release = actual - a.target_kib;
      const int64_t unused = *g->unused_kib;
      if (unused <= params.guest_min_unused_kib) {
        v.push_back(who + "G1: shrink with unused " + std::to_string(unused) +
                    " KiB <= guest_min_unused");
      } else if (release > unused - params.guest_min_unused_kib) {
        v.push_back(who + "G1: shrink leaves less than guest_min_unused");
      }
      if (release > ReleaseCap(unused, params.max_release_fraction)) {
        v.push_back(who + "G3: shrink of " + std::to_string(release) +
                    " KiB exceeds max_release_fraction of unused " +
                    std::to_string(unused) + " KiB");
      }
      if (a.target_kib < g->limits.floor_kib) {
        v.push_back(who + "G4: target below floor");
      }
      if (params.require_autodeflate && !Autodeflates(*g)) {
        v.push_back(who + "shrink without autodeflate known on");
      }
    } else if (a.target_kib > actual) {
      growth += a.target_kib - actual;
      if (a.target_kib > g->ceiling_kib()) {
        v.push_back(who + "G4: target above ceiling");
      }
    }
  }
  if (growth > 0) {
    if (growth > snapshot.host.available_kib - params.host_min_free_kib) {
      v.push_back("G2: growth of " + std::to_string(growth) +
                  " KiB takes host free below host_min_free");
    }
    if (params.guest_budget_kib &&
        SumActual(snapshot) + growth > *params.guest_budget_kib) {
      v.push_back("G6: growth exceeds the guest budget");
    }
  }
  return v;
}

}  // namespace memcoord
