// SpdlogLogger: the daemon's Logger, one line per event on standard error
// ("2026-11-26 07:41:20.123 info domain vm1: 512 MiB -> 812 MiB (starved)"),
// which journald or a file redirect picks up. Thread-safe; the level can be
// changed at any time (config reload).
#ifndef MEMCOORD_SPDLOG_LOGGER_H_
#define MEMCOORD_SPDLOG_LOGGER_H_

#include <atomic>
#include <memory>
#include <string_view>

#include "memcoord/log.h"

namespace memcoord {

class SpdlogLogger : public Logger {
 public:
  explicit SpdlogLogger(LogLevel level);
  ~SpdlogLogger() override;
  void Log(LogLevel level, std::string_view message) override;
  void SetLevel(LogLevel level);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> level_;
};

}  // namespace memcoord

#endif  // MEMCOORD_SPDLOG_LOGGER_H_
