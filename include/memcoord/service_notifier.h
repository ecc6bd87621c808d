// ServiceNotifier: what the daemon tells the service manager that started it.
//
// Ready() once the daemon does its job (the metrics endpoint serves and the
// first tick ran), SetStatus() a one-line human-readable state, Watchdog() after
// every tick, Reloading() before a configuration reload (Ready() follows when
// it is done), Stopping() when shutdown begins. WatchdogTimeout() asks for a
// new watchdog timeout when the interval outgrows the configured one.
// NullNotifier does nothing, for a daemon no service manager watches.
// Calls never fail from the caller's side: a message that cannot be sent is
// dropped. Implementations are thread-safe.
#ifndef MEMCOORD_SERVICE_NOTIFIER_H_
#define MEMCOORD_SERVICE_NOTIFIER_H_

#include <string>

namespace memcoord {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  virtual void Ready(const std::string& status) = 0;
  virtual void SetStatus(const std::string& status) = 0;
  virtual void Watchdog() = 0;
  // The watchdog timeout the service manager enforces, in seconds; 0 when
  // there is no watchdog.
  virtual double watchdog_s() const = 0;
  virtual void WatchdogTimeout(double seconds) = 0;
  virtual void Reloading() = 0;
  virtual void Stopping() = 0;
};

class NullNotifier : public ServiceNotifier {
 public:
  void Ready(const std::string&) override {}
  void SetStatus(const std::string&) override {}
  void Watchdog() override {}
  double watchdog_s() const override { return 0; }
  void WatchdogTimeout(double) override {}
  void Reloading() override {}
  void Stopping() override {}
};

}  // namespace memcoord

#endif  // MEMCOORD_SERVICE_NOTIFIER_H_
