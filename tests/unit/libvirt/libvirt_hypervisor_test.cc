// LibvirtHypervisor with no libvirtd to talk to: startup is not fatal, every
// call reports kUnavailable, and reconnects follow the backoff on the injected
// clock. Behaviour against a real libvirtd is in
// libvirt_hypervisor_lab_test.cc.
#include "memcoord/libvirt_hypervisor.h"

#include <gtest/gtest.h>

#include <fstream>

namespace memcoord {
namespace {

// A unix socket that nothing listens on, so connecting fails at once.
constexpr const char* kNoDaemonUri =
    "qemu+unix:///system?socket=/nonexistent/memcoord-test-libvirt-sock";

int64_t Calls(const Hypervisor& h, const std::string& call) {
  auto calls = h.Health().calls;
  auto it = calls.find(call);
  return it == calls.end() ? 0 : it->second;
}

TEST(LibvirtHypervisorTest, DaemonDownAtStartIsNotFatal) {
  ManualClock clock(1000);
  MemoryLogger log;
  auto hv = LibvirtHypervisor::Create(kNoDaemonUri, &clock, &log);
  ASSERT_NE(hv, nullptr);
  EXPECT_EQ(hv->uri(), kNoDaemonUri);
  HypervisorHealth h = hv->Health();
  EXPECT_FALSE(h.up);
  EXPECT_EQ(h.reconnects, 0);
  EXPECT_EQ(Calls(*hv, "virConnectOpen"), 1);
  // Every counted call is timed under the same name.
  ASSERT_EQ(h.call_durations.count("virConnectOpen"), 1u);
  EXPECT_EQ(h.call_durations.at("virConnectOpen").count, 1);
  EXPECT_GT(h.call_durations.at("virConnectOpen").sum_s, 0);
  EXPECT_EQ(h.call_durations.size(), h.calls.size());

  Result<Snapshot> s = hv->Sample();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(s.status().message().find(kNoDaemonUri), std::string::npos);

  Status set = hv->SetTarget("vm1", 524288);
  EXPECT_EQ(set.code(), Status::Code::kUnavailable);
  EXPECT_EQ(Calls(*hv, "virDomainSetMemoryFlags"), 0);
  EXPECT_EQ(Calls(*hv, "virConnectGetAllDomainStats"), 0);
}

TEST(LibvirtHypervisorTest, ReconnectBacksOffFromHalfASecondToTheCap) {
  ManualClock clock(1000);
  MemoryLogger log;
  LibvirtOptions options;
  options.reconnect_initial_s = 0.5;
  options.reconnect_max_s = 2.0;
  auto hv = LibvirtHypervisor::Create(kNoDaemonUri, &clock, &log, options);
  ASSERT_EQ(Calls(*hv, "virConnectOpen"), 1);

  // Each step: how far the clock moves, and the connect attempts made so far.
  // Waits after each failure: 0.5, 1, 2, 2 (capped).
  const std::pair<double, int64_t> steps[] = {
      {0.4, 1}, {0.1, 2}, {0.9, 2}, {0.1, 3}, {1.9, 3},
      {0.1, 4}, {1.9, 4}, {0.1, 5}, {2.0, 6},
  };
  for (const auto& [advance, attempts] : steps) {
    clock.Advance(advance);
    EXPECT_EQ(hv->Sample().status().code(), Status::Code::kUnavailable);
    EXPECT_EQ(Calls(*hv, "virConnectOpen"), attempts)
        << "at t=" << clock.NowSeconds();
  }
  EXPECT_FALSE(hv->Health().up);
  EXPECT_EQ(hv->Health().reconnects, 0);
  // Logged once, not on every attempt.
  EXPECT_EQ(log.Count("cannot connect"), 1);
}

TEST(LibvirtHypervisorTest, RejectsNonPositiveTargets) {
  ManualClock clock(0);
  NullLogger log;
  auto hv = LibvirtHypervisor::Create(kNoDaemonUri, &clock, &log);
  EXPECT_EQ(hv->SetTarget("vm1", 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(hv->SetTarget("vm1", -1).code(), Status::Code::kInvalidArgument);
}

TEST(LibvirtHypervisorTest, InstancesAreIndependent) {
  // Two instances share the process-wide event loop but not their state.
  ManualClock clock(0);
  NullLogger log;
  auto a = LibvirtHypervisor::Create(kNoDaemonUri, &clock, &log);
  auto b = LibvirtHypervisor::Create(kNoDaemonUri, &clock, &log);
  clock.Advance(0.5);
  (void)a->Sample();
  EXPECT_EQ(Calls(*a, "virConnectOpen"), 2);
  EXPECT_EQ(Calls(*b, "virConnectOpen"), 1);
}

}  // namespace
}  // namespace memcoord
