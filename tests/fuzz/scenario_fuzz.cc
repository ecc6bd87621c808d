// Fuzz target: the scenario parser (ParseScenario). A scenario it accepts
// must pass ValidateScenario; a short one is also simulated with one policy
// (chosen by the input), and every tick must keep every guardrail, so that
// whatever a scenario file can say also reaches the simulator and policies.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "memcoord/config.h"
#include "memcoord/guardrails.h"
#include "memcoord/policy.h"
#include "memcoord/scenario.h"
#include "memcoord/scenario_loader.h"
#include "memcoord/simulate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  memcoord::Result<memcoord::Scenario> s = memcoord::ParseScenario(text, "fuzz.yaml");
  if (!s.ok()) {
    if (s.status().message().empty()) {
      std::fprintf(stderr, "refused without a message\n");
      std::abort();
    }
    return 0;
  }
  const memcoord::Status valid = memcoord::ValidateScenario(*s);
  if (!valid.ok()) {
    std::fprintf(stderr, "accepted an invalid scenario: %s\n", valid.ToString().c_str());
    std::abort();
  }
  // Bounded work per input: at most ~120 ticks of at most 8 guests.
  if (s->duration_s > 60 || s->interval_s < 0.5 || s->guests.size() > 8) return 0;
  const auto& names = memcoord::PolicyNames();
  const std::string& policy = names[size % names.size()];
  memcoord::Config base;
  memcoord::GuardrailParams rails;
  rails.stale_after_s = 3 * s->interval_s;
  if (s->guest_budget_mib) rails.guest_budget_kib = memcoord::MibToKib(*s->guest_budget_mib);
  memcoord::RunOptions options;
  options.on_tick = [&](const memcoord::TickReport& r, const memcoord::SimHypervisor&) {
    for (const std::string& v : memcoord::Violations(r.applied, r.snapshot, rails)) {
      std::fprintf(stderr, "%s t=%g: %s\n", policy.c_str(), r.time_s, v.c_str());
      std::abort();
    }
    for (const memcoord::ActionResult& res : r.results) {
      if (res.status.code() == memcoord::Status::Code::kInvalidArgument) {
        std::fprintf(stderr, "%s t=%g: simulator refused: %s\n", policy.c_str(),
                     r.time_s, res.status.ToString().c_str());
        std::abort();
      }
    }
  };
  memcoord::Result<memcoord::RunResult> r =
      memcoord::RunScenario(*s, policy, base, options);
  if (!r.ok()) {
    std::fprintf(stderr, "RunScenario refused a valid scenario: %s\n",
                 r.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
