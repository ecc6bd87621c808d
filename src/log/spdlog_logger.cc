#include "memcoord/spdlog_logger.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace memcoord {

struct SpdlogLogger::Impl {
  std::shared_ptr<spdlog::logger> logger;
};

SpdlogLogger::SpdlogLogger(LogLevel level)
    : impl_(std::make_unique<Impl>()), level_(static_cast<int>(level)) {
  // A private logger, not the global registry, so that tests may create many.
  impl_->logger = std::make_shared<spdlog::logger>(
      "memory_coordinator", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  impl_->logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
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
  switch (level) {
    case LogLevel::kDebug:
      l = spdlog::level::debug;
      break;
    case LogLevel::kInfo:
      l = spdlog::level::info;
      break;
    case LogLevel::kWarn:
      l = spdlog::level::warn;
      break;
    case LogLevel::kError:
      l = spdlog::level::err;
      break;
  }
  try {
    impl_->logger->log(l, "{}", message);
  } catch (...) {
    // Logging must never take the loop down; a lost line is the lesser harm.
  }
}

}  // namespace memcoord
