#include "memcoord/sd_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace memcoord {
namespace {

// "STATUS=" takes one line: a newline would start a new assignment.
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

double WatchdogFromEnvironment() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr || *usec == '\0') return 0;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && *pid) {
    if (std::strtol(pid, nullptr, 10) != getpid()) return 0;
  }
  char* end = nullptr;
  const unsigned long long v = std::strtoull(usec, &end, 10);
  if (end == usec || *end != '\0') return 0;
  return static_cast<double>(v) / 1e6;
}

}  // namespace

std::unique_ptr<ServiceNotifier> SdNotifier::FromEnvironment() {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0') return std::make_unique<NullNotifier>();
  std::string address = name;
  if (address[0] == '@') {
    address[0] = '\0';
  } else if (address[0] != '/') {
    return std::make_unique<NullNotifier>();
  }
  if (address.size() >= sizeof(sockaddr_un::sun_path)) {
    return std::make_unique<NullNotifier>();
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::make_unique<NullNotifier>();
  const double watchdog_s = WatchdogFromEnvironment();
  // Children (none today) must not talk to the service manager for us.
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  return std::unique_ptr<ServiceNotifier>(
      new SdNotifier(fd, std::move(address), watchdog_s));
}

SdNotifier::SdNotifier(int fd, std::string address, double watchdog_s)
    : fd_(fd), address_(std::move(address)), watchdog_s_(watchdog_s) {}

SdNotifier::~SdNotifier() { close(fd_); }

void SdNotifier::Send(const std::string& message) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  const socklen_t length = static_cast<socklen_t>(
      offsetof(sockaddr_un, sun_path) + address_.size() +
      (address_[0] == '\0' ? 0 : 1));
  // A full or missing socket drops the message: the daemon goes on.
  (void)sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&to), length);
}

void SdNotifier::Ready(const std::string& status) {
  Send("READY=1\nSTATUS=" + OneLine(status));
}

void SdNotifier::SetStatus(const std::string& status) {
  Send("STATUS=" + OneLine(status));
}

void SdNotifier::Watchdog() { Send("WATCHDOG=1"); }

void SdNotifier::WatchdogTimeout(double seconds) {
  if (seconds <= 0) return;
  Send("WATCHDOG_USEC=" +
       std::to_string(static_cast<unsigned long long>(seconds * 1e6)));
}

void SdNotifier::Reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const unsigned long long usec =
      static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SdNotifier::Stopping() { Send("STOPPING=1"); }

}  // namespace memcoord
