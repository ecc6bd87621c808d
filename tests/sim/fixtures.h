// Scenarios shared by the simulator and reliability tests.
#ifndef MEMCOORD_TESTS_SIM_FIXTURES_H_
#define MEMCOORD_TESTS_SIM_FIXTURES_H_

#include <string>

#include "memcoord/scenario.h"

namespace memcoord::testing {

// "busy" allocates until it starves; "idle" sits on 4 GiB it does not use,
// so every policy has something to do with both of them.
inline Scenario BusyAndIdle(std::string name) {
  Scenario s;
  s.name = std::move(name);
  s.duration_s = 600;
  s.interval_s = 1;
  s.host_total_mib = 8192;
  s.host_used_mib = 512;
  ScenarioGuest busy;
  busy.name = "busy";
  busy.max_mib = 4096;
  busy.start_mib = 1024;
  WorkloadOp alloc;
  alloc.at_s = 1;
  alloc.kind = WorkloadOp::Kind::kAlloc;
  alloc.mib = 3000;
  alloc.rate_mib_s = 40;
  busy.workload.push_back(alloc);
  ScenarioGuest idle;
  idle.name = "idle";
  idle.max_mib = 4096;
  idle.start_mib = 4096;
  s.guests = {busy, idle};
  return s;
}

}  // namespace memcoord::testing

#endif  // MEMCOORD_TESTS_SIM_FIXTURES_H_
