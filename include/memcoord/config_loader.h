// Loading the daemon configuration (README "Configuration") from YAML.
//
// Sizes are MiB and times seconds, as in the file; the result is a
// memcoord::Config (config.h). Every key is checked for type and range, the
// relations between keys are checked (starvation < waste, override
// min_mib <= max_mib and >= guardrails.guest_min_unused_mib, TLS cert and key
// together), and unknown keys are refused with the nearest valid key
// suggested. A key left empty (null) means its default where the key is
// optional (stale_after_s, guest_budget_mib, the web.*_file keys, override
// limits) or a section (an empty `thresholds:` keeps every default); an empty
// file is the all-default Config.
//
// Errors: InvalidArgument whose message has one line per problem, each
//   FILE:LINE:COL: KEY.PATH: MESSAGE
// e.g. "memory_coordinator.yaml:3:14: thresholds.waste_mib: must be a number
// of MiB >= 0, got 'abc'". LINE:COL (1-based) point at the offending value,
// or at the key for unknown and duplicate keys; YAML syntax errors carry the
// parser's position and no key path. LoadConfigFile returns NotFound when the
// file does not exist. Nothing here throws. Thread-safe: no shared state.
#ifndef MEMCOORD_CONFIG_LOADER_H_
#define MEMCOORD_CONFIG_LOADER_H_

#include <string>
#include <string_view>

#include "memcoord/config.h"
#include "memcoord/status.h"

namespace memcoord {

// Reads and parses `path`; error messages name the file as `path` is written.
Result<Config> LoadConfigFile(const std::string& path);

// Parses YAML text; `file_name` is only used in error messages.
Result<Config> ParseConfig(std::string_view yaml_text,
                           std::string_view file_name);

// The effective configuration as YAML, every key present (unset optionals
// as null), for --check-config. ParseConfig(DumpConfig(c)) gives back c.
std::string DumpConfig(const Config& config);

}  // namespace memcoord

#endif  // MEMCOORD_CONFIG_LOADER_H_
