#include "memcoord/model.h"

namespace memcoord {

const GuestSample* Snapshot::Find(std::string_view name) const {
  for (const GuestSample& g : guests) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const Action* Plan::Find(std::string_view domain) const {
  for (const Action& a : actions) {
    if (a.domain == domain) return &a;
  }
  return nullptr;
}

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kStarved:
      return "starved";
    case Reason::kPredicted:
      return "predicted";
    case Reason::kReclaim:
      return "reclaim";
    case Reason::kHostPressure:
      return "host-pressure";
    case Reason::kBalance:
      return "balance";
    case Reason::kFloor:
      return "floor";
    case Reason::kCeiling:
      return "ceiling";
  }
  return "unknown";
}

std::string_view GuestClassName(GuestClass c) {
  switch (c) {
    case GuestClass::kStarved:
      return "starved";
    case GuestClass::kOk:
      return "ok";
    case GuestClass::kWasteful:
      return "wasteful";
    case GuestClass::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace memcoord
