#include "memcoord/status.h"

namespace memcoord {

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument: " + message_;
    case Code::kNotFound:
      return "not found: " + message_;
    case Code::kUnavailable:
      return "unavailable: " + message_;
    case Code::kInternal:
      return "internal: " + message_;
  }
  return message_;
}

}  // namespace memcoord
