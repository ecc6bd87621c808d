// Random inputs to the parsers: whatever libvirt or a guest sends, the result
// is an error or a sample that keeps the promises the policies rely on.
#include <gtest/gtest.h>

#include <random>

#include "domain_metadata.h"
#include "guest_params.h"
#include "host_memory.h"

namespace memcoord {
namespace {

TypedParam RandomParam(std::mt19937_64& rng) {
  static const char* kNames[] = {
      "balloon.current",     "balloon.maximum",     "balloon.rss",
      "balloon.unused",      "balloon.usable",      "balloon.available",
      "balloon.swap_in",     "balloon.swap_out",    "balloon.major_fault",
      "balloon.minor_fault", "balloon.last-update", "state.state"};
  TypedParam p;
  p.name = kNames[rng() % std::size(kNames)];
  // Mostly plausible sizes, sometimes extremes and wrong types.
  switch (rng() % 6) {
    case 0:
      p = TypedParam::Int(p.name, static_cast<int64_t>(rng()));
      break;
    case 1:
      p = TypedParam::Uint(p.name, rng());
      break;
    case 2:
      p = TypedParam::Str(p.name, "x");
      break;
    default:
      p = TypedParam::Uint(p.name, rng() % (4 << 20));
      break;
  }
  return p;
}

TEST(LibvirtHypervisorTest, RandomParamsNeverYieldInconsistentStats) {
  std::mt19937_64 rng(20240601);
  int with_stats = 0;
  for (int i = 0; i < 20000; ++i) {
    // A consistent report, then a few random fields over it.
    std::vector<TypedParam> params;
    const uint64_t max = 1 + rng() % (4 << 20);
    const uint64_t cur = 1 + rng() % max;
    const uint64_t avail = rng() % (cur + 1);
    params.push_back(TypedParam::Uint("balloon.maximum", max));
    params.push_back(TypedParam::Uint("balloon.current", cur));
    params.push_back(TypedParam::Uint("balloon.available", avail));
    params.push_back(TypedParam::Uint("balloon.unused", rng() % (avail + 1)));
    params.push_back(TypedParam::Uint("balloon.usable", rng() % (avail + 1)));
    for (size_t j = rng() % 4; j > 0; --j) {
      TypedParam p = RandomParam(rng);
      if (rng() % 2 == 0) {
        params[rng() % params.size()] = p;
      } else {
        params.push_back(p);
      }
    }
    std::string dropped;
    Result<GuestSample> g = GuestSampleFromParams("vm", params, &dropped);
    if (!g.ok()) continue;
    EXPECT_GT(g->actual_kib, 0);
    if (!g->has_stats()) continue;
    ++with_stats;
    EXPECT_TRUE(dropped.empty());
    EXPECT_GT(g->maximum_kib, 0);
    EXPECT_LE(g->actual_kib, g->maximum_kib);
    const int64_t bound = g->memtotal_kib.value_or(g->actual_kib);
    EXPECT_LE(*g->unused_kib, bound);
    EXPECT_GE(*g->unused_kib, 0);
    if (g->usable_kib) {
      EXPECT_LE(*g->usable_kib, bound);
    }
    if (g->memtotal_kib) {
      EXPECT_LE(*g->memtotal_kib, g->maximum_kib);
    }
    for (const auto& v : {g->swap_in_kib, g->swap_out_kib, g->major_faults,
                          g->minor_faults, g->rss_kib}) {
      if (v) {
        EXPECT_GE(*v, 0);
      }
    }
  }
  // The generator must reach the interesting case, or this proves nothing.
  EXPECT_GT(with_stats, 1000);
}

TEST(LibvirtHypervisorTest, RandomMetadataIsParsedOrRejected) {
  std::mt19937_64 rng(7);
  const std::string alphabet =
      "<>/=\"' \n:settingsmin_mibaxhreudtf0123456789-&;";
  const std::string valid = "<settings min_mib=\"512\" max_mib=\"1024\"/>";
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string xml = valid;
    // Mutate a valid element a little, or build noise from scratch.
    if (rng() % 4 == 0) {
      xml.clear();
      for (size_t j = rng() % 60; j > 0; --j) {
        xml.push_back(alphabet[rng() % alphabet.size()]);
      }
    } else {
      for (size_t j = rng() % 3; j > 0; --j) {
        xml[rng() % xml.size()] = alphabet[rng() % alphabet.size()];
      }
    }
    Result<DomainSettings> s = ParseDomainSettingsXml(xml);
    if (!s.ok()) {
      EXPECT_FALSE(s.status().message().empty());
      continue;
    }
    ++parsed;
    if (s->min_mib) {
      EXPECT_GE(*s->min_mib, 0);
    }
    if (s->min_mib && s->max_mib) {
      EXPECT_LE(*s->min_mib, *s->max_mib);
    }
  }
  EXPECT_GT(parsed, 100);
}

TEST(LibvirtHypervisorTest, RandomMeminfoIsParsedOrRejected) {
  std::mt19937_64 rng(11);
  const char* keys[] = {"MemTotal", "MemFree", "MemAvailable",
                        "Buffers",  "Cached",  "SwapTotal"};
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    for (size_t j = rng() % 8; j > 0; --j) {
      text += keys[rng() % std::size(keys)];
      text += ": " + std::to_string(rng() % 100000) + " kB\n";
    }
    Result<HostSample> h = ParseMeminfo(text);
    if (!h.ok()) continue;
    EXPECT_GT(h->total_kib, 0);
    EXPECT_LE(h->free_kib, h->total_kib);
    EXPECT_LE(h->available_kib, h->total_kib);
  }
}

}  // namespace
}  // namespace memcoord
