// Hypervisor: the interface in front of libvirt (and of the simulator).
//
// Sample() returns every running guest and the host in one snapshot; a guest
// whose stats are missing is still listed, with empty optionals. SetTarget()
// asks the balloon to move one guest to `target_kib` (live only). Errors come
// back as Status; a failure for one guest never affects another. Called from
// the controller's thread only; Health() may be called from any thread.
#ifndef MEMCOORD_HYPERVISOR_H_
#define MEMCOORD_HYPERVISOR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

// How long the calls of one name took, as a histogram (steady clock).
struct CallDurations {
  // Upper bounds, seconds (+Inf implied): from 100 us (a local read) to 10 s
  // (a libvirtd that answers only at its keepalive timeout).
  static constexpr std::array<double, 16> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  // buckets[i]: calls that took more than kBuckets[i - 1] and at most
  // kBuckets[i] (not cumulative); calls above the last bound only in count.
  std::array<int64_t, kBuckets.size()> buckets{};
  int64_t count = 0;  // every call observed
  double sum_s = 0;   // their total time

  void Observe(double seconds) {
    ++count;
    sum_s += seconds;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) {
        ++buckets[i];
        return;
      }
    }
  }
};

struct HypervisorHealth {
  bool up = true;              // connected now
  int64_t reconnects = 0;      // successful reconnects since start
  // Calls made to the hypervisor API since start, by call name
  // (e.g. "virConnectGetAllDomainStats"). Monotonic.
  std::map<std::string, int64_t> calls;
  // The time those calls took, by the same names. A hypervisor that does
  // not time its calls leaves it empty.
  std::map<std::string, CallDurations> call_durations;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // All running guests and the host. kUnavailable while disconnected.
  virtual Result<Snapshot> Sample() = 0;
  // kNotFound if the guest vanished, kUnavailable if disconnected.
  virtual Status SetTarget(const std::string& domain, int64_t target_kib) = 0;
  virtual HypervisorHealth Health() const = 0;
  // Which guests the daemon manages (config domains.include/exclude). A
  // hypervisor must not spend calls on the others (metadata, stats period)
  // and may leave them out of Sample(). Empty: every guest. Called between
  // ticks from the controller's thread.
  using DomainFilter = std::function<bool(std::string_view domain)>;
  virtual void SetDomainFilter(DomainFilter filter) { (void)filter; }
  // Which guests a hypervisor may change on its own initiative (turning on
  // the balloon statistics period): none in dry-run, never an unmanaged one.
  // `metadata` is the guest's own settings, as Sample() reports them. Empty:
  // every guest. Called between ticks from the controller's thread.
  using CommandFilter = std::function<bool(std::string_view domain,
                                           const DomainSettings& metadata)>;
  virtual void SetCommandFilter(CommandFilter filter) { (void)filter; }
};

}  // namespace memcoord

#endif  // MEMCOORD_HYPERVISOR_H_
