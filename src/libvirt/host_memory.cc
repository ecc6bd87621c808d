#include "host_memory.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

namespace memcoord {
namespace {

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() &&
         (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) {
    v.remove_suffix(1);
  }
  return v;
}

Status Validate(const HostSample& h, std::string_view source) {
  if (h.total_kib <= 0) {
    return Status::InvalidArgument(std::string(source) + ": total is zero");
  }
  for (auto [name, v] : {std::pair{"free", h.free_kib},
                         std::pair{"available", h.available_kib}}) {
    if (v > h.total_kib) {
      return Status::InvalidArgument(std::string(source) + ": " + name + " " +
                                     std::to_string(v) + " KiB exceeds total " +
                                     std::to_string(h.total_kib) + " KiB");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<HostSample> ParseMeminfo(std::string_view text) {
  std::optional<int64_t> total, free, available, buffers, cached;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view()
                                         : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::optional<int64_t>* slot = key == "MemTotal"       ? &total
                                   : key == "MemFree"      ? &free
                                   : key == "MemAvailable" ? &available
                                   : key == "Buffers"      ? &buffers
                                   : key == "Cached"       ? &cached
                                                           : nullptr;
    if (slot == nullptr) continue;
    std::string_view rest = Trim(line.substr(colon + 1));
    if (rest.size() >= 2 && rest.substr(rest.size() - 2) == "kB") {
      rest = Trim(rest.substr(0, rest.size() - 2));
    }
    int64_t v = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size() ||
        v < 0) {
      return Status::InvalidArgument("/proc/meminfo: " + std::string(key) +
                                     " value '" + std::string(rest) +
                                     "' is not a size in kB");
    }
    *slot = v;
  }
  if (!total) return Status::InvalidArgument("/proc/meminfo: no MemTotal");
  if (!free) return Status::InvalidArgument("/proc/meminfo: no MemFree");
  HostSample h;
  h.total_kib = *total;
  h.free_kib = *free;
  h.buffers_kib = buffers.value_or(0);
  h.cached_kib = cached.value_or(0);
  h.available_kib =
      available.value_or(h.free_kib + h.buffers_kib + h.cached_kib);
  if (h.available_kib > h.total_kib && !available)
    h.available_kib = h.total_kib;
  if (Status s = Validate(h, "/proc/meminfo"); !s.ok()) return s;
  return h;
}

Result<HostSample> HostSampleFromNodeStats(
    const std::vector<std::pair<std::string, uint64_t>>& fields) {
  std::optional<int64_t> total, free;
  HostSample h;
  for (const auto& [name, raw] : fields) {
    if (raw > static_cast<uint64_t>(INT64_MAX)) {
      return Status::InvalidArgument("virNodeGetMemoryStats: " + name +
                                     " is out of range");
    }
    auto v = static_cast<int64_t>(raw);
    if (name == "total") total = v;
    if (name == "free") free = v;
    if (name == "buffers") h.buffers_kib = v;
    if (name == "cached") h.cached_kib = v;
  }
  if (!total || !free) {
    return Status::InvalidArgument(
        "virNodeGetMemoryStats: total or free is missing");
  }
  h.total_kib = *total;
  h.free_kib = *free;
  h.available_kib =
      std::min(h.total_kib, h.free_kib + h.buffers_kib + h.cached_kib);
  if (Status s = Validate(h, "virNodeGetMemoryStats"); !s.ok()) return s;
  return h;
}

bool IsLocalQemuUri(std::string_view uri) {
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos) return false;
  std::string_view scheme = uri.substr(0, sep);
  if (scheme != "qemu" && scheme != "qemu+unix") return false;
  // Local means no host part: "qemu:///system", not "qemu://host/system".
  std::string_view rest = uri.substr(sep + 3);
  return !rest.empty() && rest.front() == '/';
}

}  // namespace memcoord
