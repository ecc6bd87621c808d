#include "host_memory.h"

#include <gtest/gtest.h>

namespace memcoord {
namespace {

constexpr const char* kMeminfo =
    "MemTotal:       24576000 kB\n"
    "MemFree:        10000000 kB\n"
    "MemAvailable:   20000000 kB\n"
    "Buffers:          300000 kB\n"
    "Cached:          9000000 kB\n"
    "SwapCached:            0 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

TEST(LibvirtHypervisorTest, ParsesProcMeminfo) {
  Result<HostSample> h = ParseMeminfo(kMeminfo);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->total_kib, 24576000);
  EXPECT_EQ(h->free_kib, 10000000);
  EXPECT_EQ(h->available_kib, 20000000);
  EXPECT_EQ(h->buffers_kib, 300000);
  EXPECT_EQ(h->cached_kib, 9000000);
}

TEST(LibvirtHypervisorTest, MeminfoWithoutMemAvailableEstimatesIt) {
  Result<HostSample> h = ParseMeminfo(
      "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\n");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->available_kib, 150);
}

TEST(LibvirtHypervisorTest, MeminfoErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* word;
  };
  const Case cases[] = {
      {"", "MemTotal"},
      {"MemTotal: 1000 kB\n", "MemFree"},
      {"MemTotal: 1000 kB\nMemFree: lots kB\n", "MemFree"},
      {"MemTotal: 1000 kB\nMemFree: -1 kB\n", "MemFree"},
      {"MemTotal: 1000 kB\nMemFree: 2000 kB\n", "free"},
      {"MemTotal: 0 kB\nMemFree: 0 kB\n", "total"},
      {"MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 5000 kB\n",
       "available"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<HostSample> h = ParseMeminfo(c.text);
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.status().message().find(c.word), std::string::npos)
        << h.status().message();
  }
}

TEST(LibvirtHypervisorTest, ConvertsNodeMemoryStats) {
  Result<HostSample> h = HostSampleFromNodeStats({{"total", 8000000},
                                                  {"free", 1000000},
                                                  {"buffers", 200000},
                                                  {"cached", 3000000}});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->total_kib, 8000000);
  EXPECT_EQ(h->free_kib, 1000000);
  EXPECT_EQ(h->buffers_kib, 200000);
  EXPECT_EQ(h->cached_kib, 3000000);
  EXPECT_EQ(h->available_kib, 4200000);
  EXPECT_FALSE(HostSampleFromNodeStats({{"total", 8000000}}).ok());
  EXPECT_FALSE(HostSampleFromNodeStats({{"total", 10}, {"free", 20}}).ok());
}

TEST(LibvirtHypervisorTest, KnowsWhichUrisAreLocal) {
  EXPECT_TRUE(IsLocalQemuUri("qemu:///system"));
  EXPECT_TRUE(IsLocalQemuUri("qemu:///session"));
  EXPECT_TRUE(IsLocalQemuUri("qemu+unix:///system?socket=/run/x.sock"));
  EXPECT_FALSE(IsLocalQemuUri("qemu+ssh://root@host/system"));
  EXPECT_FALSE(IsLocalQemuUri("qemu://host/system"));
  EXPECT_FALSE(IsLocalQemuUri("qemu+tcp:///system"));
  EXPECT_FALSE(IsLocalQemuUri("test:///default"));
  EXPECT_FALSE(IsLocalQemuUri("sim:scenario.yaml"));
}

}  // namespace
}  // namespace memcoord
