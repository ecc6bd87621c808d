#include "guest_params.h"

#include <gtest/gtest.h>

#include <limits>

namespace memcoord {
namespace {

// The parameters of a 2 GiB guest whose balloon driver reports everything.
std::vector<TypedParam> FullParams() {
  return {
      TypedParam::Int("state.state", 1),
      TypedParam::Int("state.reason", 1),
      TypedParam::Uint("balloon.current", 1048576),
      TypedParam::Uint("balloon.maximum", 2097152),
      TypedParam::Uint("balloon.swap_in", 12),
      TypedParam::Uint("balloon.swap_out", 34),
      TypedParam::Uint("balloon.major_fault", 56),
      TypedParam::Uint("balloon.minor_fault", 78),
      TypedParam::Uint("balloon.unused", 600000),
      TypedParam::Uint("balloon.available", 1000000),
      TypedParam::Uint("balloon.usable", 700000),
      TypedParam::Int("balloon.last-update", 1700000000),
      TypedParam::Uint("balloon.rss", 900000),
      TypedParam::Uint("balloon.disk_caches", 50000),
  };
}

std::vector<TypedParam> With(std::vector<TypedParam> params,
                             const TypedParam& replacement) {
  for (TypedParam& p : params) {
    if (p.name == replacement.name) {
      p = replacement;
      return params;
    }
  }
  params.push_back(replacement);
  return params;
}

std::vector<TypedParam> Without(std::vector<TypedParam> params,
                                std::string_view name) {
  std::erase_if(params, [&](const TypedParam& p) { return p.name == name; });
  return params;
}

TEST(LibvirtHypervisorTest, ConvertsEveryBalloonField) {
  std::string dropped = "stale";
  Result<GuestSample> g = GuestSampleFromParams("vm1", FullParams(), &dropped);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(dropped, "");
  EXPECT_EQ(g->name, "vm1");
  EXPECT_EQ(g->actual_kib, 1048576);
  EXPECT_EQ(g->maximum_kib, 2097152);
  EXPECT_EQ(g->rss_kib, 900000);
  EXPECT_EQ(g->unused_kib, 600000);
  EXPECT_EQ(g->usable_kib, 700000);
  EXPECT_EQ(g->memtotal_kib, 1000000);
  EXPECT_EQ(g->swap_in_kib, 12);
  EXPECT_EQ(g->swap_out_kib, 34);
  EXPECT_EQ(g->major_faults, 56);
  EXPECT_EQ(g->minor_faults, 78);
  EXPECT_EQ(g->disk_caches_kib, 50000);
  ASSERT_TRUE(g->stats_time_s.has_value());
  EXPECT_DOUBLE_EQ(*g->stats_time_s, 1700000000.0);
  EXPECT_TRUE(g->has_stats());
  EXPECT_FALSE(g->target_kib.has_value());
}

TEST(LibvirtHypervisorTest, GuestWithoutDriverHasNoStatsButIsListed) {
  // Before virtio_balloon loads libvirt reports only what QEMU knows.
  std::vector<TypedParam> params = {
      TypedParam::Uint("balloon.current", 1048576),
      TypedParam::Uint("balloon.maximum", 1048576),
      TypedParam::Uint("balloon.rss", 300000),
  };
  std::string dropped;
  Result<GuestSample> g = GuestSampleFromParams("vm2", params, &dropped);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(dropped, "");
  EXPECT_EQ(g->actual_kib, 1048576);
  EXPECT_EQ(g->rss_kib, 300000);
  EXPECT_FALSE(g->has_stats());
  EXPECT_FALSE(g->usable_kib.has_value());
  EXPECT_FALSE(g->stats_time_s.has_value());
  EXPECT_FALSE(g->swap_in_kib.has_value());
}

TEST(LibvirtHypervisorTest, PartialGuestStatsKeepWhatWasReported) {
  // Older guest kernels report no usable and no disk caches.
  auto params = Without(FullParams(), "balloon.usable");
  Result<GuestSample> g = GuestSampleFromParams("vm", params);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->has_stats());
  EXPECT_FALSE(g->usable_kib.has_value());
  EXPECT_EQ(g->unused_kib, 600000);
}

TEST(LibvirtHypervisorTest, ZeroLastUpdateMeansNeverReported) {
  auto params = With(FullParams(), TypedParam::Int("balloon.last-update", 0));
  Result<GuestSample> g = GuestSampleFromParams("vm", params);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->stats_time_s.has_value());
  EXPECT_TRUE(g->has_stats());
}

TEST(LibvirtHypervisorTest, MissingCurrentIsAnError) {
  Result<GuestSample> g =
      GuestSampleFromParams("vm", Without(FullParams(), "balloon.current"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(g.status().message().find("'vm'"), std::string::npos);
}

TEST(LibvirtHypervisorTest, ZeroOrNegativeCurrentIsAnError) {
  EXPECT_FALSE(
      GuestSampleFromParams(
          "vm", With(FullParams(), TypedParam::Uint("balloon.current", 0)))
          .ok());
  EXPECT_FALSE(
      GuestSampleFromParams(
          "vm", With(FullParams(), TypedParam::Int("balloon.current", -5)))
          .ok());
  EXPECT_FALSE(
      GuestSampleFromParams(
          "vm", With(FullParams(), TypedParam::Str("balloon.current", "1G")))
          .ok());
}

// Each case: the parameters, and a word the reason must contain.
struct AbsurdCase {
  const char* label;
  std::vector<TypedParam> params;
  const char* reason_word;
};

TEST(LibvirtHypervisorTest, AbsurdStatsAreDroppedWithAReason) {
  const std::vector<AbsurdCase> cases = {
      {"zero maximum",
       With(FullParams(), TypedParam::Uint("balloon.maximum", 0)), "maximum"},
      {"no maximum", Without(FullParams(), "balloon.maximum"), "maximum"},
      {"negative unused",
       With(FullParams(), TypedParam::Int("balloon.unused", -1)), "unused"},
      {"negative swap_in",
       With(FullParams(), TypedParam::Int("balloon.swap_in", -7)), "swap_in"},
      {"negative last-update",
       With(FullParams(), TypedParam::Int("balloon.last-update", -1)),
       "last-update"},
      {"unused above available",
       With(FullParams(), TypedParam::Uint("balloon.unused", 1000001)),
       "unused"},
      {"usable above available",
       With(FullParams(), TypedParam::Uint("balloon.usable", 1000001)),
       "usable"},
      {"unused above actual without available",
       With(Without(FullParams(), "balloon.available"),
            TypedParam::Uint("balloon.unused", 1048577)),
       "balloon.current"},
      {"available above maximum",
       With(FullParams(), TypedParam::Uint("balloon.available", 2097153)),
       "available"},
      {"current above maximum",
       With(FullParams(), TypedParam::Uint("balloon.current", 3000000)),
       "exceeds balloon.maximum"},
      {"uint64 that does not fit",
       With(FullParams(),
            TypedParam::Uint("balloon.major_fault",
                             std::numeric_limits<uint64_t>::max())),
       "major_fault"},
      {"string where a number belongs",
       With(FullParams(), TypedParam::Str("balloon.usable", "lots")), "usable"},
      {"type and value disagree",
       With(FullParams(), TypedParam{"balloon.unused",
                                     TypedParam::Type::kULLong, int64_t{5}}),
       "unused"},
  };
  for (const AbsurdCase& c : cases) {
    SCOPED_TRACE(c.label);
    std::string dropped;
    Result<GuestSample> g = GuestSampleFromParams("vm", c.params, &dropped);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_NE(dropped.find(c.reason_word), std::string::npos) << dropped;
    // Treated as missing: nothing the guest said survives.
    EXPECT_FALSE(g->has_stats());
    EXPECT_FALSE(g->usable_kib.has_value());
    EXPECT_FALSE(g->memtotal_kib.has_value());
    EXPECT_FALSE(g->swap_in_kib.has_value());
    EXPECT_FALSE(g->major_faults.has_value());
    EXPECT_FALSE(g->stats_time_s.has_value());
    // What libvirt itself knows stays.
    EXPECT_GT(g->actual_kib, 0);
    EXPECT_EQ(g->rss_kib, 900000);
  }
}

TEST(LibvirtHypervisorTest, StatsOlderThanAShrinkAreNotAbsurd) {
  // The balloon already took memory (current 512 MiB) but the last report,
  // from before, still shows 600 MiB free out of the 1000 MiB the guest saw.
  auto params = With(FullParams(), TypedParam::Uint("balloon.current", 524288));
  std::string dropped;
  Result<GuestSample> g = GuestSampleFromParams("vm", params, &dropped);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(dropped, "");
  EXPECT_EQ(g->unused_kib, 600000);
}

TEST(LibvirtHypervisorTest, IntegerTypesConvert) {
  EXPECT_EQ(TypedParamInt64({"a", TypedParam::Type::kInt, int64_t{-3}}), -3);
  EXPECT_EQ(TypedParamInt64({"a", TypedParam::Type::kUInt, uint64_t{7}}), 7);
  EXPECT_EQ(TypedParamInt64({"a", TypedParam::Type::kLLong, int64_t{1} << 40}),
            int64_t{1} << 40);
  EXPECT_FALSE(TypedParamInt64({"a", TypedParam::Type::kDouble, 1.0}));
  EXPECT_FALSE(TypedParamInt64({"a", TypedParam::Type::kBoolean, true}));
  EXPECT_FALSE(
      TypedParamInt64({"a", TypedParam::Type::kULLong, uint64_t{1} << 63}));
}

}  // namespace
}  // namespace memcoord
