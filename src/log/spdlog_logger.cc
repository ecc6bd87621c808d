#include "memcoord/spdlog_logger.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace memcoord {

struct SpdlogLogger::Impl {
  std::shared_ptr<spdlog::logger> logger;
};

SpdlogLogger::Format SpdlogLogger::FormatForStderr() {
  // systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected
  // to the journal; a service whose standard error is still that stream
  // writes for the journal.
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || fstat(STDERR_FILENO, &st) != 0) {
    return Format::kPlain;
  }
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return Format::kPlain;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
                 ino == static_cast<unsigned long long>(st.st_ino)
             ? Format::kJournal
             : Format::kPlain;
}

SpdlogLogger::SpdlogLogger(LogLevel level, Format format)
    : impl_(std::make_unique<Impl>()),
      level_(static_cast<int>(level)),
      format_(format) {
  // A private logger, not the global registry, so that tests may create many.
  impl_->logger = std::make_shared<spdlog::logger>(
      "memory_coordinator", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // The journal stamps each line itself; the priority prefix is written
  // with the message.
  impl_->logger->set_pattern(format == Format::kJournal
                                 ? "%v"
                                 : "%Y-%m-%d %H:%M:%S.%e %l %v");
  impl_->logger->set_level(spdlog::level::trace);
  impl_->logger->flush_on(spdlog::level::trace);
}

SpdlogLogger::~SpdlogLogger() = default;

void SpdlogLogger::SetLevel(LogLevel level) {
  level_.store(static_cast<int>(level));
}

void SpdlogLogger::Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < level_.load()) return;
  spdlog::level::level_enum l = spdlog::level::info;
  const char* priority = "<6>";
  switch (level) {
    case LogLevel::kDebug:
      l = spdlog::level::debug;
      priority = "<7>";
      break;
    case LogLevel::kInfo:
      l = spdlog::level::info;
      break;
    case LogLevel::kWarn:
      l = spdlog::level::warn;
      priority = "<4>";
      break;
    case LogLevel::kError:
      l = spdlog::level::err;
      priority = "<3>";
      break;
  }
  try {
    if (format_ == Format::kJournal) {
      impl_->logger->log(l, "{}{}", priority, message);
    } else {
      impl_->logger->log(l, "{}", message);
    }
  } catch (...) {
    // Logging must never take the loop down; a lost line is the lesser harm.
  }
}

}  // namespace memcoord
