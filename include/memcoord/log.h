// Logger: where the core writes what it does, one line per event.
//
// The daemon wires an spdlog-backed implementation (src/log/); tests use
// MemoryLogger to assert on lines. Implementations must be thread-safe.
#ifndef MEMCOORD_LOG_H_
#define MEMCOORD_LOG_H_

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "memcoord/status.h"

namespace memcoord {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };
std::string_view LogLevelName(LogLevel level);
// Accepts "debug", "info", "warn", "error".
Result<LogLevel> ParseLogLevel(std::string_view name);

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

// Discards everything.
class NullLogger : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
};

// Keeps every line in memory ("<level> <message>"), for tests.
class MemoryLogger : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override;
  std::vector<std::string> lines() const;
  // Number of lines that contain `needle`.
  int Count(std::string_view needle) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace memcoord

#endif  // MEMCOORD_LOG_H_
