// Loop: runs the controller's tick every interval until told to stop.
//
// Ticks are scheduled on a fixed grid (start + k * interval) measured on the
// steady clock, so a slow tick does not shift later ones; a tick that overruns
// its slot is followed at once by the next. Stop() and Reload() may be called
// from any thread (e.g. a signal-handling thread) and wake the loop at once:
// Stop() ends Run() after the tick in progress, Reload() runs the reload
// callback on the loop's thread before the next tick, so configuration is
// never swapped under a running tick.
#ifndef MEMCOORD_LOOP_H_
#define MEMCOORD_LOOP_H_

#include <condition_variable>
#include <functional>
#include <mutex>

namespace memcoord {

class Loop {
 public:
  struct Callbacks {
    std::function<void()> tick;
    std::function<void()> reload;         // may be empty
    std::function<double()> interval_s;   // read before every wait
  };

  // Blocks until Stop(). With `once`, runs a single tick and returns.
  void Run(const Callbacks& callbacks, bool once = false);
  void Stop();
  void Reload();
  bool stopping() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reload_ = false;
};

}  // namespace memcoord

#endif  // MEMCOORD_LOOP_H_
