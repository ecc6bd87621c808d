// Fuzz target: the daemon configuration parser (ParseConfig). Besides not
// crashing, a config it accepts must be valid, and dumping and parsing it
// again must give the same dump (the --check-config round trip).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "memcoord/config.h"
#include "memcoord/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  memcoord::Result<memcoord::Config> c = memcoord::ParseConfig(text, "fuzz.yaml");
  if (!c.ok()) {
    if (c.status().message().empty()) {
      std::fprintf(stderr, "refused without a message\n");
      std::abort();
    }
    return 0;
  }
  const memcoord::Status valid = c->Validate();
  if (!valid.ok()) {
    std::fprintf(stderr, "accepted an invalid config: %s\n", valid.ToString().c_str());
    std::abort();
  }
  const std::string dump = memcoord::DumpConfig(*c);
  memcoord::Result<memcoord::Config> again = memcoord::ParseConfig(dump, "dump.yaml");
  if (!again.ok()) {
    std::fprintf(stderr, "dump does not parse: %s\n--\n%s",
                 again.status().ToString().c_str(), dump.c_str());
    std::abort();
  }
  const std::string dump2 = memcoord::DumpConfig(*again);
  if (dump2 != dump) {
    std::fprintf(stderr, "round trip differs:\n%s--\n%s", dump.c_str(), dump2.c_str());
    std::abort();
  }
  return 0;
}
