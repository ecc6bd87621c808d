// Prints how much faster than real time the simulator runs a scenario:
//   memcoord_sim_speed FILE [--hours H] [--policy NAME]
// The scenario's duration is stretched to H hours (default 1); its workload
// runs as written and the host then idles on, with the controller ticking.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "memcoord/scenario_loader.h"
#include "memcoord/simulate.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [--hours H] [--policy NAME]\n", argv[0]);
    return 2;
  }
  double hours = 1;
  std::string policy = "seed";
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--hours") == 0) hours = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--policy") == 0) policy = argv[i + 1];
  }
  auto scenario = memcoord::LoadScenarioFile(argv[1]);
  if (!scenario.ok()) {
    std::fprintf(stderr, "%s\n", scenario.status().message().c_str());
    return 2;
  }
  scenario->duration_s = hours * 3600;
  const auto start = std::chrono::steady_clock::now();
  auto result = memcoord::RunScenario(*scenario, policy, memcoord::Config{});
  const double real_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().message().c_str());
    return 1;
  }
  std::printf("scenario %s, policy %s: %.0f simulated s in %.3f real s (%.0fx real time)\n",
              scenario->name.c_str(), policy.c_str(), scenario->duration_s, real_s,
              scenario->duration_s / real_s);
  return 0;
}
