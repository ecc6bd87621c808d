// Policy: decides a target for guests from a snapshot.
//
// Policies are pure: no I/O, no clock; they may keep their own history of past
// snapshots (times come from Snapshot::time_s). Decide() returns the plan
// before guardrails; guardrails.h clamps it. Not thread-safe: one policy object
// belongs to one controller. Unknown names are kInvalidArgument.
#ifndef MEMCOORD_POLICY_H_
#define MEMCOORD_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

struct PolicyParams {
  int64_t starvation_kib = MibToKib(150);
  int64_t waste_kib = MibToKib(300);
  int64_t guest_min_unused_kib = MibToKib(100);
  int64_t host_min_free_kib = MibToKib(200);
  double max_release_fraction = 0.5;
  double interval_s = 2;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // Guests without stats, or with limits.managed == false, get no action.
  virtual Plan Decide(const Snapshot& snapshot) = 0;
  // The guest's class as this policy judges it, on the signal and lines its
  // decisions use (memcoord_domain_class and the starving alert show it).
  // The default is Classify(guest, params) below.
  virtual GuestClass Classify(const GuestSample& guest,
                              const PolicyParams& params) const;
};

// "seed", "adaptive", "mom", "proxmox". The oracle (oracle_policy.h) is not
// one of them: MakePolicy refuses its name with OracleRefusal().
Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name,
                                           const PolicyParams& params);
// The daemon's policies, in the order of the score tables.
const std::vector<std::string>& PolicyNames();

// The simulator's clairvoyant policy. Known here by name only, so that the
// daemon (config, --policy) can refuse it with a reason.
inline constexpr std::string_view kOraclePolicyName = "oracle";
// "policy 'oracle' is clairvoyant ... runs only under `simulate`".
std::string OracleRefusal();

// Starved: unused <= starvation; wasteful: unused >= waste; unknown: no stats.
// The signal and lines of seed, mom and proxmox.
GuestClass Classify(const GuestSample& guest, const PolicyParams& params);

}  // namespace memcoord

#endif  // MEMCOORD_POLICY_H_
