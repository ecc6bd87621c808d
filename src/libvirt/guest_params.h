// Conversion of one guest's libvirt domain stats into a GuestSample.
//
// virConnectGetAllDomainStats returns, per guest, a list of typed parameters
// ("balloon.current", "balloon.unused", ...). TypedParam mirrors one of them
// with standard types only, so that the conversion below can be unit-tested and
// fuzzed without libvirt. Sizes are KiB as libvirt reports them; times are
// seconds since the Unix epoch. Pure functions: thread-safe, no I/O.
#ifndef MEMCOORD_SRC_LIBVIRT_GUEST_PARAMS_H_
#define MEMCOORD_SRC_LIBVIRT_GUEST_PARAMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

// One virTypedParameter. `type` names the libvirt type it came from; `value`
// holds it: kInt/kLLong as int64_t, kUInt/kULLong as uint64_t, kDouble as
// double, kBoolean as bool, kString as std::string.
struct TypedParam {
  enum class Type { kInt, kUInt, kLLong, kULLong, kDouble, kBoolean, kString };
  std::string name;
  Type type = Type::kULLong;
  std::variant<int64_t, uint64_t, double, bool, std::string> value;

  static TypedParam Uint(std::string name, uint64_t v) {
    return {std::move(name), Type::kULLong, v};
  }
  static TypedParam Int(std::string name, int64_t v) {
    return {std::move(name), Type::kLLong, v};
  }
  static TypedParam Str(std::string name, std::string v) {
    return {std::move(name), Type::kString, std::move(v)};
  }
};

// The value of an integer parameter as int64_t; nullopt for a non-integer
// type, a value that does not fit, or a `value` that does not match `type`.
std::optional<int64_t> TypedParamInt64(const TypedParam& p);

// Builds the sample of guest `name` from its "balloon.*" parameters (other
// parameters are ignored). balloon.current -> actual_kib, balloon.maximum ->
// maximum_kib, balloon.rss, balloon.unused, balloon.usable, balloon.available,
// balloon.swap_in, balloon.swap_out, balloon.major_fault, balloon.minor_fault,
// balloon.disk_caches, balloon.last-update -> stats_time_s.
//
// Errors: kInvalidArgument when balloon.current is missing, not an integer or
// not positive (there is no balloon size to act on).
// Absurd guest-reported statistics (a negative or non-integer value, a zero
// maximum, current above maximum, unused or usable above what the guest has,
// available above the maximum) are not an error: the sample is returned with
// every guest-reported field empty (has_stats() false), and `dropped_reason`,
// when given, says why. It is cleared when the statistics are fine.
Result<GuestSample> GuestSampleFromParams(
    std::string_view name, const std::vector<TypedParam>& params,
    std::string* dropped_reason = nullptr);

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_GUEST_PARAMS_H_
