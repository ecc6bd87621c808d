#include "process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace memcoord::metrics_internal {
namespace {

// Seconds since the epoch at which the system booted (/proc/stat btime).
std::optional<double> BootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  std::string line;
  while (std::getline(stat, line)) {
    std::istringstream in(line);
    if (in >> key >> value && key == "btime") return value;
  }
  return std::nullopt;
}

std::optional<double> SoftFdLimit() {
  std::ifstream limits("/proc/self/limits");
  std::string line;
  const std::string key = "Max open files";
  while (std::getline(limits, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    std::istringstream in(line.substr(key.size()));
    std::string soft;
    in >> soft;
    if (soft == "unlimited") return std::nullopt;
    try {
      return std::stod(soft);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats() {
  std::ifstream file("/proc/self/stat");
  std::string stat;
  if (!std::getline(file, stat)) return std::nullopt;
  // The command name is in parentheses and may hold spaces: the fields
  // count from the last ')'. After it: state (3), ... utime (14), stime
  // (15), ... starttime (22), vsize (23), rss (24, in pages).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  double utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  for (int i = 3; i <= 24 && in >> field; ++i) {
    try {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
      if (i == 22) start_ticks = std::stod(field);
      if (i == 23) vsize = std::stod(field);
      if (i == 24) rss_pages = std::stod(field);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  // Constants of the running system, read once.
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  static const std::optional<double> boot = BootTime();
  if (!(ticks > 0) || !(page > 0) || !boot) return std::nullopt;

  ProcessStats s;
  s.cpu_seconds = (utime + stime) / ticks;
  s.start_time_s = *boot + start_ticks / ticks;
  s.virtual_bytes = vsize;
  s.resident_bytes = rss_pages * page;
  if (DIR* fds = opendir("/proc/self/fd")) {
    int n = 0;
    while (const dirent* e = readdir(fds)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(fds);
    s.open_fds = n - 1;  // the directory stream's own descriptor
  }
  s.max_fds = SoftFdLimit();
  return s;
}

}  // namespace memcoord::metrics_internal
