// Constructors of the built-in policies, for MakePolicy (policy.cc). Internal
// to the core library; users go through MakePolicy.
#ifndef MEMCOORD_SRC_CORE_POLICIES_H_
#define MEMCOORD_SRC_CORE_POLICIES_H_

#include <memory>

#include "memcoord/policy.h"

namespace memcoord {

std::unique_ptr<Policy> NewSeedPolicy(const PolicyParams& params);
std::unique_ptr<Policy> NewMomPolicy(const PolicyParams& params);
std::unique_ptr<Policy> NewProxmoxPolicy(const PolicyParams& params);
std::unique_ptr<Policy> NewAdaptivePolicy(const PolicyParams& params);

}  // namespace memcoord

#endif  // MEMCOORD_SRC_CORE_POLICIES_H_
