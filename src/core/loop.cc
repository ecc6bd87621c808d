#include "memcoord/loop.h"

#include <chrono>

namespace memcoord {

void Loop::Run(const Callbacks& callbacks, bool once) {
  using Steady = std::chrono::steady_clock;
  auto next = Steady::now();
  while (true) {
    bool reload = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      reload = reload_;
      reload_ = false;
    }
    if (reload && callbacks.reload) callbacks.reload();
    callbacks.tick();
    if (once) return;

    const auto interval = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(callbacks.interval_s()));
    next += interval;
    const auto now = Steady::now();
    if (next < now) next = now;  // overran: start the next tick at once
    // Wait out the slot; a reload wakes the loop early, is applied on this
    // thread, and the wait goes on to the same slot.
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!cv_.wait_until(lock, next, [this] { return stop_ || reload_; })) {
        break;
      }
      if (stop_) break;
      reload_ = false;
      lock.unlock();
      if (callbacks.reload) callbacks.reload();
      lock.lock();
    }
  }
}

void Loop::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void Loop::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  reload_ = true;
  cv_.notify_all();
}

bool Loop::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

}  // namespace memcoord
