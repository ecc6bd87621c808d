#include "memcoord/log.h"

#include <algorithm>
#include <string>

namespace memcoord {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

Result<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError}) {
    if (LogLevelName(l) == name) return l;
  }
  return Status::InvalidArgument("log level '" + std::string(name) +
                                 "' is not one of debug, info, warn, error");
}

void MemoryLogger::Log(LogLevel level, std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(std::string(LogLevelName(level)) + " " +
                   std::string(message));
}

std::vector<std::string> MemoryLogger::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

int MemoryLogger::Count(std::string_view needle) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(
      std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
        return l.find(needle) != std::string::npos;
      }));
}

}  // namespace memcoord
