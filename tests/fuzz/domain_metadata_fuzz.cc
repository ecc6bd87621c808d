// Fuzz target: the parser of our <settings/> element in a guest's libvirt
// metadata (ParseDomainSettingsXml). What it accepts must be in range.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "domain_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  memcoord::Result<memcoord::DomainSettings> s = memcoord::ParseDomainSettingsXml(xml);
  if (!s.ok()) {
    if (s.status().message().empty()) std::abort();
    return 0;
  }
  if ((s->min_mib && *s->min_mib < 0) || (s->max_mib && *s->max_mib < 0) ||
      (s->shares && *s->shares < 0)) {
    std::fprintf(stderr, "accepted a negative value\n");
    std::abort();
  }
  if (s->min_mib && s->max_mib && *s->min_mib > *s->max_mib) {
    std::fprintf(stderr, "accepted min_mib above max_mib\n");
    std::abort();
  }
  // MiB -> KiB must not overflow where the limits are used.
  if ((s->min_mib && *s->min_mib > (int64_t{1} << 40)) ||
      (s->max_mib && *s->max_mib > (int64_t{1} << 40))) {
    std::fprintf(stderr, "accepted a size that overflows in KiB\n");
    std::abort();
  }
  return 0;
}
