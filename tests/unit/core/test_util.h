// Builders shared by the core unit tests.
#ifndef MEMCOORD_TESTS_UNIT_CORE_TEST_UTIL_H_
#define MEMCOORD_TESTS_UNIT_CORE_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "memcoord/hypervisor.h"
#include "memcoord/model.h"

namespace memcoord::testing {

// A guest with stats, sizes in MiB, stats taken at `time_s`.
inline GuestSample Guest(const std::string& name, double actual_mib,
                         double unused_mib, double max_mib = 2048,
                         double time_s = 0) {
  GuestSample g;
  g.name = name;
  g.actual_kib = MibToKib(actual_mib);
  g.maximum_kib = MibToKib(max_mib);
  g.unused_kib = MibToKib(unused_mib);
  g.usable_kib = MibToKib(unused_mib);
  g.memtotal_kib = g.actual_kib;
  g.stats_time_s = time_s;
  return g;
}

inline GuestSample GuestWithoutStats(const std::string& name, double actual_mib,
                                     double max_mib = 2048) {
  GuestSample g;
  g.name = name;
  g.actual_kib = MibToKib(actual_mib);
  g.maximum_kib = MibToKib(max_mib);
  return g;
}

inline Snapshot Snap(std::vector<GuestSample> guests, double host_free_mib,
                     double host_total_mib = 16384, double time_s = 0) {
  Snapshot s;
  s.time_s = time_s;
  s.host.total_kib = MibToKib(host_total_mib);
  s.host.free_kib = MibToKib(host_free_mib);
  s.host.available_kib = s.host.free_kib;
  s.guests = std::move(guests);
  return s;
}

// A hypervisor that returns a scripted snapshot and records SetTarget calls.
class FakeHypervisor : public Hypervisor {
 public:
  Result<Snapshot> Sample() override {
    ++samples;
    if (!sample_status.ok()) return sample_status;
    return snapshot;
  }
  Status SetTarget(const std::string& domain, int64_t target_kib) override {
    auto it = set_errors.find(domain);
    if (it != set_errors.end()) return it->second;
    sets.push_back({domain, target_kib});
    return Status::Ok();
  }
  HypervisorHealth Health() const override { return {}; }
  void SetDomainFilter(DomainFilter f) override { filter = std::move(f); }
  void SetCommandFilter(CommandFilter f) override {
    command_filter = std::move(f);
  }

  Snapshot snapshot;
  Status sample_status;
  std::map<std::string, Status> set_errors;
  std::vector<std::pair<std::string, int64_t>> sets;
  int samples = 0;
  DomainFilter filter;
  CommandFilter command_filter;
};

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_CORE_TEST_UTIL_H_
