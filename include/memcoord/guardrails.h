// Guardrails G1-G6 (README "Guardrails"): the step every plan passes through.
//
// Enforce() never reverses an action's direction and never invents one: it
// lowers or drops actions, in this order: unmanaged, stale (G5), bounds (G4),
// autodeflate (when required), guest minimum unused (G1), release fraction
// (G3), host minimum free (G2), budget (G6). Growth is granted in plan order, so policies list the most
// urgent guest first. Every change or drop is counted under its rule. Pure.
#ifndef MEMCOORD_GUARDRAILS_H_
#define MEMCOORD_GUARDRAILS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memcoord/model.h"

namespace memcoord {

struct GuardrailParams {
  int64_t guest_min_unused_kib = MibToKib(100);
  int64_t host_min_free_kib = MibToKib(200);
  double max_release_fraction = 0.5;
  double stale_after_s = 6;
  std::optional<int64_t> guest_budget_kib;
  // true: never shrink a guest whose balloon autodeflate is not known to be
  // on (GuestSample::balloon.autodeflate off or unknown).
  bool require_autodeflate = false;
};

enum class Rule {
  kUnmanaged = 0,   // domain has managed: false
  kStale,           // G5
  kBounds,          // G4
  kGuestMinUnused,  // G1
  kMaxRelease,      // G3
  kHostMinFree,     // G2
  kBudget,          // G6
  kAutodeflate,     // a shrink of a guest without autodeflate, when required
  kCount
};
constexpr int kRuleCount = static_cast<int>(Rule::kCount);
// Label value for memcoord_guardrail_clamps_total{rule}.
std::string_view RuleName(Rule rule);

struct ClampCounts {
  std::array<int64_t, kRuleCount> by_rule{};
  int64_t& operator[](Rule r) { return by_rule[static_cast<int>(r)]; }
  int64_t operator[](Rule r) const { return by_rule[static_cast<int>(r)]; }
  int64_t total() const;
};

struct GuardedPlan {
  Plan plan;
  ClampCounts clamps;
};

GuardedPlan Enforce(const Plan& plan, const Snapshot& snapshot,
                    const GuardrailParams& params);

// Independent check of a final plan against the rules: one line per broken
// rule, empty when the plan is safe. Used by tests on every tick.
std::vector<std::string> Violations(const Plan& plan, const Snapshot& snapshot,
                                    const GuardrailParams& params);

}  // namespace memcoord

#endif  // MEMCOORD_GUARDRAILS_H_
