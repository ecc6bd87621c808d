// The data of one tick: what was sampled, and what is planned.
//
// Sizes are KiB (libvirt's unit) in int64_t and carry `_kib` in their name;
// times are seconds on the Clock's timeline. These are plain value types with no
// synchronisation. A balloon statistic the guest did not report is an empty
// std::optional, never a zero.
#ifndef MEMCOORD_MODEL_H_
#define MEMCOORD_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memcoord {

constexpr int64_t kKibPerMib = 1024;
constexpr int64_t MibToKib(double mib) { return static_cast<int64_t>(mib * kKibPerMib); }
constexpr double KibToMib(int64_t kib) { return static_cast<double>(kib) / kKibPerMib; }

// Per-domain settings as one source states them (a config override, or the
// guest's libvirt metadata); an empty field says nothing.
struct DomainSettings {
  std::optional<int64_t> min_mib;
  std::optional<int64_t> max_mib;
  std::optional<int64_t> shares;
  std::optional<bool> managed;
  bool empty() const { return !min_mib && !max_mib && !shares && !managed; }
};

// Per-domain settings after config and libvirt metadata were merged.
struct DomainLimits {
  int64_t floor_kib = MibToKib(256);  // G4: never target below this
  std::optional<int64_t> max_kib;     // optional cap below the libvirt maximum
  int64_t shares = 1000;              // weight when memory is shared out
  bool managed = true;                // false: observed and exported, never set
};

// The guest's virtio balloon device as its live definition states it (libvirt:
// <devices><memballoon>, read when the guest is first seen and on a redefine or
// device event). An empty field is unknown: the definition was not read, or
// the guest has no virtio balloon.
struct BalloonDevice {
  // autodeflate (QEMU deflate-on-oom): the guest takes memory back from its
  // balloon when it runs out of memory.
  std::optional<bool> autodeflate;
  // freePageReporting: the guest hands free pages back to the host.
  std::optional<bool> free_page_reporting;
  // Seconds between two balloon statistics reports; 0: off.
  std::optional<int64_t> stats_period_s;
};

// One running guest as the hypervisor reports it.
struct GuestSample {
  std::string name;
  std::string uuid;  // the hypervisor's id of the guest; empty when unknown
  int64_t actual_kib = 0;   // balloon.current: memory the guest has now
  int64_t maximum_kib = 0;  // balloon.maximum: libvirt's maximum memory
  std::optional<int64_t> rss_kib;        // host RSS of the QEMU process
  // Guest-reported balloon statistics (absent when the driver is not loaded,
  // the stats period is off, or the guest has not reported yet).
  std::optional<int64_t> unused_kib;     // MemFree
  std::optional<int64_t> usable_kib;     // MemAvailable (free + reclaimable)
  std::optional<int64_t> memtotal_kib;   // MemTotal as the guest sees it (balloon.available)
  std::optional<int64_t> swap_in_kib;    // cumulative
  std::optional<int64_t> swap_out_kib;   // cumulative
  std::optional<int64_t> major_faults;   // cumulative count
  std::optional<int64_t> minor_faults;   // cumulative count
  std::optional<int64_t> disk_caches_kib;  // page cache the guest can drop
  std::optional<double> stats_time_s;    // when the guest last reported
  // The balloon device's settings (not statistics: the guest's definition).
  BalloonDevice balloon;
  // The last target this daemon (or anyone) set, when the hypervisor knows it.
  std::optional<int64_t> target_kib;
  // Settings the guest carries with it (libvirt <metadata>, or the scenario).
  DomainSettings metadata;
  // Filled by the controller from configuration before the policy runs.
  DomainLimits limits;

  bool has_stats() const { return unused_kib.has_value(); }
  // The memory the guest's kernel holds, in the terms of its statistics: its
  // MemTotal (else the balloon's current size), less the balloon where the
  // balloon's pages are inside MemTotal. A guest with autodeflate keeps
  // MemTotal at its boot size and counts the pages it gave the balloon as
  // used; without autodeflate MemTotal shrinks with the balloon. Demand is
  // this less the guest's free memory.
  int64_t kernel_total_kib() const {
    const int64_t total = memtotal_kib.value_or(actual_kib);
    if (balloon.autodeflate.value_or(false) && memtotal_kib &&
        total > actual_kib && maximum_kib > actual_kib) {
      const int64_t in_use = total - (maximum_kib - actual_kib);
      return in_use > 0 ? in_use : 0;
    }
    return total;
  }
  // Ceiling for targets: the libvirt maximum, lowered by a configured max.
  int64_t ceiling_kib() const {
    return limits.max_kib && *limits.max_kib < maximum_kib ? *limits.max_kib
                                                            : maximum_kib;
  }
};

// Host memory. On a real host from /proc/meminfo or virNodeGetMemoryStats.
struct HostSample {
  int64_t total_kib = 0;
  int64_t free_kib = 0;       // MemFree
  // MemAvailable (free + reclaimable): what the host can give without
  // swapping, and what guardrails.host_min_free_mib (G2) is measured on.
  int64_t available_kib = 0;
  int64_t buffers_kib = 0;
  int64_t cached_kib = 0;
};

struct Snapshot {
  double time_s = 0;
  HostSample host;
  std::vector<GuestSample> guests;
  // G6 budget for the sum of guest memory, if configured (copied in by the
  // controller so that policies can plan within it).
  std::optional<int64_t> guest_budget_kib;
  const GuestSample* Find(std::string_view name) const;
};

// Why a target was chosen. Shown in logs and in the `reason` metric label.
enum class Reason {
  kStarved,       // the guest is at or below the starvation line
  kPredicted,     // the guest's trend will cross the starvation line soon
  kReclaim,       // the guest holds more than it needs
  kHostPressure,  // the host is short of memory
  kBalance,       // redistribution by a host-level goal (mom, proxmox)
  kFloor,         // raised to the configured floor
  kCeiling,       // lowered to the configured ceiling
};
std::string_view ReasonName(Reason r);

struct Action {
  std::string domain;
  int64_t from_kib = 0;    // actual at sample time
  int64_t target_kib = 0;  // what to set
  Reason reason = Reason::kStarved;
  bool grow() const { return target_kib > from_kib; }
  int64_t delta_kib() const { return target_kib - from_kib; }
};

struct Plan {
  std::vector<Action> actions;
  const Action* Find(std::string_view domain) const;
};

// The class of a guest for the `memcoord_domain_class` metric.
enum class GuestClass { kStarved, kOk, kWasteful, kUnknown };
std::string_view GuestClassName(GuestClass c);

}  // namespace memcoord

#endif  // MEMCOORD_MODEL_H_
