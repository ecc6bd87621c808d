#include "memcoord/policy.h"

#include <string>

#include "policies.h"

namespace memcoord {

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> kNames = {"seed", "mom", "proxmox",
                                                  "adaptive"};
  return kNames;
}

Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name,
                                           const PolicyParams& params) {
  if (name == "seed") return NewSeedPolicy(params);
  if (name == "mom") return NewMomPolicy(params);
  if (name == "proxmox") return NewProxmoxPolicy(params);
  if (name == "adaptive") return NewAdaptivePolicy(params);
  if (name == kOraclePolicyName) return Status::InvalidArgument(OracleRefusal());
  std::string known;
  for (const std::string& n : PolicyNames()) {
    known += (known.empty() ? "" : ", ") + n;
  }
  return Status::InvalidArgument("unknown policy '" + std::string(name) +
                                 "' (known: " + known + ")");
}

std::string OracleRefusal() {
  return "policy 'oracle' is clairvoyant (it reads a scenario's future "
         "workload) and runs only under `memory_coordinator simulate`; the "
         "daemon runs seed, adaptive, mom or proxmox";
}

GuestClass Policy::Classify(const GuestSample& guest,
                            const PolicyParams& params) const {
  return memcoord::Classify(guest, params);
}

GuestClass Classify(const GuestSample& guest, const PolicyParams& params) {
  if (!guest.has_stats()) return GuestClass::kUnknown;
  if (*guest.unused_kib <= params.starvation_kib) return GuestClass::kStarved;
  if (*guest.unused_kib >= params.waste_kib) return GuestClass::kWasteful;
  return GuestClass::kOk;
}

}  // namespace memcoord
