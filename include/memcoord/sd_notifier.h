// SdNotifier: ServiceNotifier over systemd's notification protocol, without
// libsystemd.
//
// Each call sends one datagram of NAME=VALUE lines to the AF_UNIX socket named
// by $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. Ready() is
// "READY=1\nSTATUS=...", SetStatus() "STATUS=...", Watchdog() "WATCHDOG=1",
// WatchdogTimeout() "WATCHDOG_USEC=N", Reloading() "RELOADING=1\n
// MONOTONIC_USEC=N", Stopping() "STOPPING=1". $WATCHDOG_USEC (with
// $WATCHDOG_PID, when set, naming this process) gives watchdog_s().
// FromEnvironment() returns a NullNotifier when $NOTIFY_SOCKET is unset or
// names no usable socket. Thread-safe: one sendto() per message.
#ifndef MEMCOORD_SD_NOTIFIER_H_
#define MEMCOORD_SD_NOTIFIER_H_

#include <memory>
#include <string>

#include "memcoord/service_notifier.h"

namespace memcoord {

class SdNotifier : public ServiceNotifier {
 public:
  static std::unique_ptr<ServiceNotifier> FromEnvironment();
  ~SdNotifier() override;

  void Ready(const std::string& status) override;
  void SetStatus(const std::string& status) override;
  void Watchdog() override;
  double watchdog_s() const override { return watchdog_s_; }
  void WatchdogTimeout(double seconds) override;
  void Reloading() override;
  void Stopping() override;

 private:
  SdNotifier(int fd, std::string address, double watchdog_s);
  void Send(const std::string& message);

  const int fd_;
  const std::string address_;  // sun_path bytes; a leading '\0' is abstract
  const double watchdog_s_;
};

}  // namespace memcoord

#endif  // MEMCOORD_SD_NOTIFIER_H_
