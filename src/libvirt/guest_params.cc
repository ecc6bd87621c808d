#include "guest_params.h"

#include <limits>
#include <string>

namespace memcoord {
namespace {

// Where a parameter ends up. Host-side fields come from libvirt itself and are
// always there; guest-side fields are what the guest's balloon driver reported.
struct Field {
  std::string_view key;
  bool guest_reported;
  std::optional<int64_t> GuestSample::*member;  // null for current/maximum
};

constexpr std::string_view kCurrent = "balloon.current";
constexpr std::string_view kMaximum = "balloon.maximum";
constexpr std::string_view kLastUpdate = "balloon.last-update";

const Field kFields[] = {
    {"balloon.rss", false, &GuestSample::rss_kib},
    {"balloon.unused", true, &GuestSample::unused_kib},
    {"balloon.usable", true, &GuestSample::usable_kib},
    {"balloon.available", true, &GuestSample::memtotal_kib},
    {"balloon.swap_in", true, &GuestSample::swap_in_kib},
    {"balloon.swap_out", true, &GuestSample::swap_out_kib},
    {"balloon.major_fault", true, &GuestSample::major_faults},
    {"balloon.minor_fault", true, &GuestSample::minor_faults},
    {"balloon.disk_caches", true, &GuestSample::disk_caches_kib},
};

void ClearGuestReported(GuestSample& s) {
  for (const Field& f : kFields) {
    if (f.guest_reported) s.*f.member = std::nullopt;
  }
  s.stats_time_s = std::nullopt;
}

std::string Kib(int64_t v) { return std::to_string(v) + " KiB"; }

}  // namespace

std::optional<int64_t> TypedParamInt64(const TypedParam& p) {
  switch (p.type) {
    case TypedParam::Type::kInt:
    case TypedParam::Type::kLLong:
      if (const auto* v = std::get_if<int64_t>(&p.value)) return *v;
      return std::nullopt;
    case TypedParam::Type::kUInt:
    case TypedParam::Type::kULLong:
      if (const auto* v = std::get_if<uint64_t>(&p.value)) {
        if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return std::nullopt;
        }
        return static_cast<int64_t>(*v);
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

Result<GuestSample> GuestSampleFromParams(std::string_view name,
                                          const std::vector<TypedParam>& params,
                                          std::string* dropped_reason) {
  GuestSample s;
  s.name = std::string(name);
  bool have_current = false;
  bool have_maximum = false;
  // The first problem found with guest-reported data; it makes all of that
  // data untrustworthy, since one garbled field hints at a garbled report.
  std::string absurd;
  auto note = [&](std::string why) {
    if (absurd.empty()) absurd = std::move(why);
  };

  for (const TypedParam& p : params) {
    if (p.name == kCurrent) {
      std::optional<int64_t> v = TypedParamInt64(p);
      if (!v || *v <= 0) {
        return Status::InvalidArgument("domain '" + s.name +
                                       "': balloon.current is not a positive "
                                       "integer");
      }
      s.actual_kib = *v;
      have_current = true;
    } else if (p.name == kMaximum) {
      std::optional<int64_t> v = TypedParamInt64(p);
      if (!v || *v < 0) {
        note("balloon.maximum is not a non-negative integer");
        continue;
      }
      s.maximum_kib = *v;
      have_maximum = true;
    } else if (p.name == kLastUpdate) {
      std::optional<int64_t> v = TypedParamInt64(p);
      if (!v || *v < 0) {
        note("balloon.last-update is not a non-negative integer");
        continue;
      }
      // Zero means the guest never reported; libvirt sends it that way.
      if (*v > 0) s.stats_time_s = static_cast<double>(*v);
    } else {
      for (const Field& f : kFields) {
        if (p.name != f.key) continue;
        std::optional<int64_t> v = TypedParamInt64(p);
        if (!v || *v < 0) {
          note(std::string(f.key) + " is not a non-negative integer");
        } else {
          s.*f.member = *v;
        }
        break;
      }
    }
  }

  if (!have_current) {
    return Status::InvalidArgument("domain '" + s.name +
                                   "': no balloon.current in its stats");
  }
  if (!have_maximum || s.maximum_kib == 0) {
    note("balloon.maximum is missing or zero");
  } else if (s.actual_kib > s.maximum_kib) {
    note("balloon.current " + Kib(s.actual_kib) + " exceeds balloon.maximum " +
         Kib(s.maximum_kib));
  }
  if (s.memtotal_kib && s.maximum_kib > 0 &&
      *s.memtotal_kib > s.maximum_kib) {
    note("balloon.available " + Kib(*s.memtotal_kib) +
         " exceeds balloon.maximum " + Kib(s.maximum_kib));
  }
  // The guest's statistics are up to one stats period older than
  // balloon.current, which QEMU tracks live: right after a big shrink, the last
  // report can show more free memory than the guest has now. When the guest
  // said how much memory it saw (available), compare with that, which is from
  // the same report; otherwise with the balloon size.
  const int64_t bound = s.memtotal_kib.value_or(s.actual_kib);
  const char* bound_name =
      s.memtotal_kib ? "balloon.available " : "balloon.current ";
  if (s.unused_kib && *s.unused_kib > bound) {
    note("balloon.unused " + Kib(*s.unused_kib) + " exceeds " + bound_name +
         Kib(bound));
  }
  if (s.usable_kib && *s.usable_kib > bound) {
    note("balloon.usable " + Kib(*s.usable_kib) + " exceeds " + bound_name +
         Kib(bound));
  }

  if (!absurd.empty()) ClearGuestReported(s);
  if (dropped_reason) *dropped_reason = absurd;
  return s;
}

}  // namespace memcoord
