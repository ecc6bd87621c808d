// Clock: the only source of time for the core.
//
// Times are seconds as a double. SystemClock reads the wall clock (seconds since
// the Unix epoch), the same timeline libvirt uses for a guest's stats
// "last-update". ManualClock is set by the caller, so tests and the simulator
// run without sleeping. All implementations are thread-safe.
#ifndef MEMCOORD_CLOCK_H_
#define MEMCOORD_CLOCK_H_

#include <atomic>

namespace memcoord {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double NowSeconds() const = 0;
};

class SystemClock : public Clock {
 public:
  double NowSeconds() const override;
};

class ManualClock : public Clock {
 public:
  explicit ManualClock(double start_s = 0) : now_s_(start_s) {}
  double NowSeconds() const override { return now_s_.load(); }
  void Set(double now_s) { now_s_.store(now_s); }
  void Advance(double delta_s) { now_s_.store(now_s_.load() + delta_s); }

 private:
  std::atomic<double> now_s_;
};

}  // namespace memcoord

#endif  // MEMCOORD_CLOCK_H_
