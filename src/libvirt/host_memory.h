// Host memory from /proc/meminfo or from virNodeGetMemoryStats, as a
// HostSample in KiB. Pure functions over text or name/value pairs: thread-safe,
// no I/O, no libvirt.
#ifndef MEMCOORD_SRC_LIBVIRT_HOST_MEMORY_H_
#define MEMCOORD_SRC_LIBVIRT_HOST_MEMORY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

// Parses the text of /proc/meminfo ("MemTotal:  24576000 kB" lines).
// MemTotal and MemFree are required; Buffers and Cached default to 0;
// MemAvailable, absent on old kernels, falls back to free + buffers + cached.
// Errors: kInvalidArgument naming the missing or malformed field, or when a
// value exceeds MemTotal.
Result<HostSample> ParseMeminfo(std::string_view text);

// Converts the fields virNodeGetMemoryStats returns for all cells ("total",
// "free", "buffers", "cached", in KiB). libvirt has no "available", so it is
// estimated as free + buffers + cached (what the kernel could hand out).
// Errors: kInvalidArgument when total or free is missing or free > total.
Result<HostSample> HostSampleFromNodeStats(
    const std::vector<std::pair<std::string, uint64_t>>& fields);

// True when `uri` names a QEMU driver on this machine (qemu:///system,
// qemu:///session, qemu+unix:///system?socket=...), so /proc/meminfo describes
// the same host the guests run on.
bool IsLocalQemuUri(std::string_view uri);

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_HOST_MEMORY_H_
