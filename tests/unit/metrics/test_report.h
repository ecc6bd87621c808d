// Hand-built TickReports with round numbers, so that expected metric values
// can be written down directly.
#ifndef MEMCOORD_TESTS_UNIT_METRICS_TEST_REPORT_H_
#define MEMCOORD_TESTS_UNIT_METRICS_TEST_REPORT_H_

#include <string>

#include "memcoord/controller.h"
#include "memcoord/model.h"

namespace memcoord::testing {

constexpr double kMib = 1024.0 * 1024.0;  // bytes

// A guest with full stats: `actual_mib` of memory, half of it unused.
inline GuestSample Guest(const std::string& name, int64_t actual_mib,
                         double stats_time_s) {
  GuestSample g;
  g.name = name;
  g.actual_kib = MibToKib(actual_mib);
  g.maximum_kib = MibToKib(4096);
  g.rss_kib = MibToKib(actual_mib + 10);
  g.unused_kib = MibToKib(actual_mib / 2);
  g.usable_kib = MibToKib(actual_mib / 2 + 100);
  g.memtotal_kib = MibToKib(actual_mib - 50);
  g.swap_in_kib = 0;
  g.swap_out_kib = 0;
  g.major_faults = 0;
  g.stats_time_s = stats_time_s;
  return g;
}

// A guest without balloon statistics.
inline GuestSample GuestWithoutStats(const std::string& name,
                                     int64_t actual_mib) {
  GuestSample g;
  g.name = name;
  g.actual_kib = MibToKib(actual_mib);
  g.maximum_kib = MibToKib(4096);
  return g;
}

inline TickReport Report(double time_s) {
  TickReport r;
  r.time_s = time_s;
  r.duration_s = 0.003;
  r.sample_status = Status::Ok();
  r.snapshot.time_s = time_s;
  r.snapshot.host.total_kib = MibToKib(16384);
  r.snapshot.host.free_kib = MibToKib(8192);
  r.snapshot.host.available_kib = MibToKib(10240);
  r.policy = "seed";
  return r;
}

// A tick whose sample failed with `error`: nothing below it is set.
inline TickReport FailedReport(double time_s, const std::string& error) {
  TickReport r;
  r.time_s = time_s;
  r.sample_status = Status::Unavailable(error);
  return r;
}

inline Action MakeAction(const std::string& domain, int64_t from_mib,
                         int64_t to_mib, Reason reason) {
  Action a;
  a.domain = domain;
  a.from_kib = MibToKib(from_mib);
  a.target_kib = MibToKib(to_mib);
  a.reason = reason;
  return a;
}

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_UNIT_METRICS_TEST_REPORT_H_
