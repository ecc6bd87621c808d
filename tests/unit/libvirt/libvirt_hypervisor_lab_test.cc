// LibvirtHypervisor against a real libvirtd and real QEMU guests.
//
// Brings up two lab guests with deploy/lab/lab.sh, then checks what only the
// real thing can show: balloon stats arrive, SetTarget moves the balloon, one
// stats call and one host call per tick, metadata is read from the guest, the
// balloon's autodeflate and stats period are read from its definition (once,
// and again after a define event), a destroyed guest is NotFound, and a
// libvirtd restart is survived. The tests
// share the guests and run in order in one process; the last one tears the
// lab down. Needs root (libvirtd, qemu:///system).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "memcoord/libvirt_hypervisor.h"

namespace memcoord {
namespace {

constexpr const char* kUri = "qemu:///system";
constexpr const char* kPrefix = "lvt";
constexpr const char* kGuest1 = "lvt-1";
constexpr const char* kGuest2 = "lvt-2";
constexpr int64_t kMaxMib = 1024;
constexpr int64_t kStartMib = 768;

struct CommandResult {
  int status = -1;
  std::string output;
};

// Runs a shell command, returning its exit status and combined output.
CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    r.output.append(buf.data(), n);
  }
  int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

std::string Lab(const std::string& args) {
  return std::string(MEMCOORD_LAB_SH) + " " + args;
}

void SleepS(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// Calls `done` once per `period_s` until it returns true or
// `timeout_s` passes; returns the seconds it took, or -1.
double PollFor(double timeout_s, double period_s,
               const std::function<bool()>& done) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (done()) return elapsed;
    if (elapsed > timeout_s) return -1;
    SleepS(period_s);
  }
}

std::map<std::string, int64_t> CallsOf(const Hypervisor& hv) {
  return hv.Health().calls;
}

// Calls made between two Health() readings, only those that changed.
std::map<std::string, int64_t> Delta(const std::map<std::string, int64_t>& a,
                                     const std::map<std::string, int64_t>& b) {
  std::map<std::string, int64_t> d;
  for (const auto& [call, n] : b) {
    auto it = a.find(call);
    int64_t before = it == a.end() ? 0 : it->second;
    if (n != before) d[call] = n - before;
  }
  return d;
}

const GuestSample* FindGuest(const Result<Snapshot>& s, const char* name) {
  return s.ok() ? s->Find(name) : nullptr;
}

class LibvirtLabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    auto t0 = std::chrono::steady_clock::now();
    CommandResult up =
        RunCommand(Lab(std::string("up 2 --prefix ") + kPrefix + " --max-mib " +
                       std::to_string(kMaxMib) + " --start-mib " +
                       std::to_string(kStartMib) + " --timeout 150"));
    lab_up_ = up.status == 0;
    lab_output_ = up.output;
    std::printf("lab up: %.1f s\n", std::chrono::duration<double>(
                                        std::chrono::steady_clock::now() - t0)
                                        .count());
    hv_ = LibvirtHypervisor::Create(kUri, &clock_, &log_).release();
  }

  static void TearDownTestSuite() {
    // What the backend logged, for whoever reads a failure.
    for (const std::string& line : log_.lines()) {
      std::printf("log: %s\n", line.c_str());
    }
    delete hv_;
    hv_ = nullptr;
    if (geteuid() != 0) return;
    // libvirtd may have been left stopped by a failed reconnect test.
    RunCommand(Lab("start-libvirtd"));
    RunCommand(Lab(std::string("down --prefix ") + kPrefix));
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the lab needs root";
    ASSERT_TRUE(lab_up_) << "lab.sh up failed:\n" << lab_output_;
  }

  static inline SystemClock clock_;
  static inline MemoryLogger log_;
  static inline LibvirtHypervisor* hv_ = nullptr;
  static inline bool lab_up_ = false;
  static inline std::string lab_output_;
};

TEST_F(LibvirtLabTest, SamplesGuestsWithBalloonStats) {
  Result<Snapshot> s = Status::Internal("not sampled");
  double took = PollFor(30, 0.5, [&] {
    s = hv_->Sample();
    const GuestSample* a = FindGuest(s, kGuest1);
    const GuestSample* b = FindGuest(s, kGuest2);
    return a && b && a->has_stats() && b->has_stats();
  });
  ASSERT_GE(took, 0) << "no balloon stats from both guests within 30 s: "
                     << s.status().ToString();
  EXPECT_TRUE(hv_->Health().up);
  for (const char* name : {kGuest1, kGuest2}) {
    SCOPED_TRACE(name);
    const GuestSample* g = s->Find(name);
    EXPECT_EQ(g->maximum_kib, kMaxMib * 1024);
    EXPECT_NEAR(g->actual_kib, kStartMib * 1024, 1024);
    EXPECT_GT(*g->unused_kib, 0);
    EXPECT_LE(*g->unused_kib, g->actual_kib);
    ASSERT_TRUE(g->usable_kib.has_value());
    ASSERT_TRUE(g->memtotal_kib.has_value());
    if (g->balloon.autodeflate == true) {
      // Deflate-on-oom: the guest keeps its ballooned pages in MemTotal (its
      // driver does not take them off the managed pages), so MemTotal stays
      // near the maximum while the balloon holds 256 MiB.
      EXPECT_GT(*g->memtotal_kib, g->actual_kib + 128 * 1024);
    } else {
      EXPECT_LE(*g->memtotal_kib, g->actual_kib);
    }
    ASSERT_TRUE(g->rss_kib.has_value());
    EXPECT_GT(*g->rss_kib, 0);
    ASSERT_TRUE(g->stats_time_s.has_value());
    EXPECT_NEAR(*g->stats_time_s, clock_.NowSeconds(), 10);
  }
  EXPECT_GT(s->host.total_kib, 0);
  EXPECT_GT(s->host.available_kib, 0);
  EXPECT_NEAR(s->time_s, clock_.NowSeconds(), 5);
  // The lab defines the stats period, so it is never set by us here.
  EXPECT_EQ(log_.Count("'lvt-1': balloon stats period set"), 0);
  EXPECT_EQ(log_.Count("'lvt-2': balloon stats period set"), 0);
}

TEST_F(LibvirtLabTest, OneStatsCallOneHostCallAndOneCallPerAction) {
  ASSERT_TRUE(hv_->Sample().ok());  // first-seen work (metadata) is done
  auto before = CallsOf(*hv_);
  Result<Snapshot> s = hv_->Sample();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::map<std::string, int64_t> tick = {{"virConnectGetAllDomainStats", 1},
                                         {"proc_meminfo", 1}};
  EXPECT_EQ(Delta(before, CallsOf(*hv_)), tick);

  // Two actions cost two calls, nothing else.
  before = CallsOf(*hv_);
  const GuestSample* a = s->Find(kGuest1);
  const GuestSample* b = s->Find(kGuest2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(hv_->SetTarget(kGuest1, a->actual_kib).ok());
  ASSERT_TRUE(hv_->SetTarget(kGuest2, b->actual_kib).ok());
  std::map<std::string, int64_t> actions = {{"virDomainSetMemoryFlags", 2}};
  EXPECT_EQ(Delta(before, CallsOf(*hv_)), actions);

  // Three more ticks: three of each, whatever number of guests runs.
  before = CallsOf(*hv_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hv_->Sample().ok());
  std::map<std::string, int64_t> ticks = {{"virConnectGetAllDomainStats", 3},
                                          {"proc_meminfo", 3}};
  EXPECT_EQ(Delta(before, CallsOf(*hv_)), ticks);
}

TEST_F(LibvirtLabTest, SetTargetMovesTheBalloon) {
  const int64_t target = 600 * 1024;
  ASSERT_TRUE(hv_->SetTarget(kGuest1, target).ok());
  Result<Snapshot> s = Status::Internal("not sampled");
  double took = PollFor(30, 0.5, [&] {
    s = hv_->Sample();
    const GuestSample* g = FindGuest(s, kGuest1);
    return g && std::abs(g->actual_kib - target) <= 8 * 1024;
  });
  ASSERT_GE(took, 0) << "balloon of " << kGuest1 << " did not reach 600 MiB";
  std::printf("shrink 768 -> 600 MiB settled in %.1f s\n", took);
  const GuestSample* g = s->Find(kGuest1);
  EXPECT_EQ(g->target_kib, target);
  // The other guest was left alone.
  EXPECT_NEAR(s->Find(kGuest2)->actual_kib, kStartMib * 1024, 1024);

  // And back up.
  ASSERT_TRUE(hv_->SetTarget(kGuest1, kStartMib * 1024).ok());
  took = PollFor(30, 0.5, [&] {
    s = hv_->Sample();
    const GuestSample* g1 = FindGuest(s, kGuest1);
    return g1 && std::abs(g1->actual_kib - kStartMib * 1024) <= 8 * 1024;
  });
  EXPECT_GE(took, 0) << "balloon of " << kGuest1 << " did not grow back";
}

TEST_F(LibvirtLabTest, ReadsMetadataOnceAndAfterItChanges) {
  Result<Snapshot> s = hv_->Sample();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Find(kGuest2)->metadata.empty());

  CommandResult set = RunCommand(
      std::string("virsh -q -c ") + kUri + " metadata " + kGuest2 +
      " --uri https://memcoord.dev/xmlns/domain/1 --key memcoord --set "
      "'<settings min_mib=\"512\" shares=\"2000\"/>' --live");
  ASSERT_EQ(set.status, 0) << set.output;

  // The metadata-change event makes the next tick read it again.
  double took = PollFor(10, 0.5, [&] {
    s = hv_->Sample();
    const GuestSample* g = FindGuest(s, kGuest2);
    return g && g->metadata.min_mib == 512;
  });
  ASSERT_GE(took, 0) << "metadata of " << kGuest2 << " not seen in 10 s";
  const GuestSample* g = s->Find(kGuest2);
  EXPECT_EQ(g->metadata.shares, 2000);
  EXPECT_FALSE(g->metadata.max_mib.has_value());
  EXPECT_FALSE(g->metadata.managed.has_value());
  EXPECT_TRUE(s->Find(kGuest1)->metadata.empty());
  EXPECT_GE(log_.Count("'lvt-2' metadata: min_mib=512 shares=2000"), 1);

  // Read once, not every tick.
  auto before = CallsOf(*hv_);
  for (int i = 0; i < 3; ++i) {
    s = hv_->Sample();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->Find(kGuest2)->metadata.min_mib, 512);
  }
  EXPECT_EQ(Delta(before, CallsOf(*hv_)).count("virDomainGetMetadata"), 0u);
}

TEST_F(LibvirtLabTest, ReadsTheBalloonDefinitionOnceAndAfterARedefine) {
  // lab.sh gives lvt-1 autodeflate='on' and lvt-2, the last guest of its
  // `up 2`, autodeflate='off'; both <stats period='1'/>. A hypervisor of its
  // own, that sees only the lab's two guests, so that its calls are theirs.
  MemoryLogger log;
  std::unique_ptr<LibvirtHypervisor> hv =
      LibvirtHypervisor::Create(kUri, &clock_, &log);
  hv->SetDomainFilter([](std::string_view name) {
    return name == kGuest1 || name == kGuest2;
  });
  Result<Snapshot> s = hv->Sample();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const GuestSample* on = s->Find(kGuest1);
  const GuestSample* off = s->Find(kGuest2);
  ASSERT_TRUE(on && off);
  EXPECT_EQ(on->balloon.autodeflate, true);
  EXPECT_EQ(off->balloon.autodeflate, false);
  for (const GuestSample* g : {on, off}) {
    SCOPED_TRACE(g->name);
    EXPECT_EQ(g->balloon.stats_period_s, 1);
    EXPECT_EQ(g->balloon.free_page_reporting, false);
    CommandResult uuid = RunCommand(std::string("virsh -q -c ") + kUri +
                                    " domuuid " + g->name);
    ASSERT_EQ(uuid.status, 0) << uuid.output;
    EXPECT_EQ(g->uuid.size(), 36u);
    EXPECT_EQ(uuid.output.substr(0, g->uuid.size() + 1), g->uuid + "\n");
  }
  // Once per guest when first seen, not per tick.
  EXPECT_EQ(CallsOf(*hv)["virDomainGetXMLDesc"], 2);
  auto before = CallsOf(*hv);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hv->Sample().ok());
  EXPECT_EQ(Delta(before, CallsOf(*hv)).count("virDomainGetXMLDesc"), 0u);

  // Defining the transient guest (making it persistent) raises a define
  // event: its definition is read again, once.
  const std::string file =
      "/tmp/memcoord-lab-test-" + std::string(kGuest2) + ".xml";
  CommandResult define = RunCommand(
      std::string("virsh -q -c ") + kUri + " dumpxml --inactive " + kGuest2 +
      " > " + file + " && virsh -q -c " + kUri + " define " + file);
  ASSERT_EQ(define.status, 0) << define.output;
  before = CallsOf(*hv);
  double took = PollFor(10, 0.5, [&] {
    s = hv->Sample();
    return Delta(before, CallsOf(*hv)).count("virDomainGetXMLDesc") != 0;
  });
  CommandResult undefine = RunCommand(std::string("virsh -q -c ") + kUri +
                                      " undefine " + kGuest2 + "; rm -f " +
                                      file);
  EXPECT_EQ(undefine.status, 0) << undefine.output;
  ASSERT_GE(took, 0) << "the definition of " << kGuest2
                     << " was not read again within 10 s of its define";
  EXPECT_EQ(Delta(before, CallsOf(*hv))["virDomainGetXMLDesc"], 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Find(kGuest2)->balloon.autodeflate, false);
  EXPECT_EQ(s->Find(kGuest1)->balloon.autodeflate, true);
  EXPECT_EQ(log.Count("cannot read its definition"), 0);
}

TEST_F(LibvirtLabTest, VanishedGuestIsNotFoundAndLoggedOnce) {
  ASSERT_TRUE(hv_->Sample().ok());  // lvt-2's domain is cached now
  CommandResult destroy =
      RunCommand(std::string("virsh -q -c ") + kUri + " destroy " + kGuest2);
  ASSERT_EQ(destroy.status, 0) << destroy.output;

  Status first = hv_->SetTarget(kGuest2, 700 * 1024);
  EXPECT_EQ(first.code(), Status::Code::kNotFound) << first.ToString();
  Status second = hv_->SetTarget(kGuest2, 700 * 1024);
  EXPECT_EQ(second.code(), Status::Code::kNotFound) << second.ToString();
  EXPECT_EQ(log_.Count("domain vanished or stopped"), 1);

  // The other guest is not affected.
  EXPECT_TRUE(hv_->SetTarget(kGuest1, kStartMib * 1024).ok());
  Result<Snapshot> s = hv_->Sample();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Find(kGuest2), nullptr);
  EXPECT_NE(s->Find(kGuest1), nullptr);

  // A name libvirt never knew is looked up, and is NotFound too.
  EXPECT_EQ(hv_->SetTarget("lvt-no-such-guest", 524288).code(),
            Status::Code::kNotFound);
}

TEST_F(LibvirtLabTest, ReconnectsAfterLibvirtdRestart) {
  ASSERT_TRUE(hv_->Sample().ok());
  ASSERT_EQ(hv_->Health().reconnects, 0);

  CommandResult stop = RunCommand(Lab("stop-libvirtd"));
  ASSERT_EQ(stop.status, 0) << stop.output;
  // The close callback notices without a call from us.
  double noticed = PollFor(5, 0.1, [&] { return !hv_->Health().up; });
  EXPECT_GE(noticed, 0) << "Health().up still true 5 s after libvirtd stopped";
  Result<Snapshot> down = hv_->Sample();
  EXPECT_EQ(down.status().code(), Status::Code::kUnavailable)
      << down.status().ToString();
  EXPECT_FALSE(hv_->Health().up);
  EXPECT_EQ(hv_->SetTarget(kGuest1, kStartMib * 1024).code(),
            Status::Code::kUnavailable);

  // Ticks keep coming while libvirtd is away, as the daemon's would.
  CommandResult start = RunCommand(Lab("start-libvirtd"));
  ASSERT_EQ(start.status, 0) << start.output;
  Result<Snapshot> s = Status::Internal("not sampled");
  // With a 2 s interval, two intervals are 4 s; tick every 0.5 s here.
  double took = PollFor(4, 0.5, [&] {
    s = hv_->Sample();
    return s.ok();
  });
  ASSERT_GE(took, 0) << "no reconnect within 4 s of libvirtd's return: "
                     << s.status().ToString();
  std::printf("reconnected %.1f s after libvirtd answered again\n", took);
  EXPECT_TRUE(hv_->Health().up);
  EXPECT_EQ(hv_->Health().reconnects, 1);
  EXPECT_EQ(log_.Count("reconnected to qemu:///system"), 1);
  const GuestSample* g = s->Find(kGuest1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->maximum_kib, kMaxMib * 1024);
  // Actions work on the new connection.
  EXPECT_TRUE(hv_->SetTarget(kGuest1, kStartMib * 1024).ok());
}

}  // namespace
}  // namespace memcoord
