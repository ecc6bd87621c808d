// SpdlogLogger: the daemon's Logger, one line per event on standard error
// ("2026-11-26 07:41:20.123 info domain vm1: 512 MiB -> 812 MiB (starved)").
// Under journald (standard error is the stream systemd's JOURNAL_STREAM
// names) each line is "<6>domain vm1: ..." instead: the sd-daemon priority
// prefix (3 error, 4 warning, 6 info, 7 debug) and no timestamp, which the
// journal records itself. Thread-safe; the level can be changed at any time
// (config reload).
#ifndef MEMCOORD_SPDLOG_LOGGER_H_
#define MEMCOORD_SPDLOG_LOGGER_H_

#include <atomic>
#include <memory>
#include <string_view>

#include "memcoord/log.h"

namespace memcoord {

class SpdlogLogger : public Logger {
 public:
  enum class Format { kPlain, kJournal };
  explicit SpdlogLogger(LogLevel level, Format format = Format::kPlain);
  // kJournal when standard error is connected to the journal (JOURNAL_STREAM
  // holds its device and inode), else kPlain.
  static Format FormatForStderr();
  ~SpdlogLogger() override;
  void Log(LogLevel level, std::string_view message) override;
  void SetLevel(LogLevel level);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> level_;
  const Format format_;
};

}  // namespace memcoord

#endif  // MEMCOORD_SPDLOG_LOGGER_H_
