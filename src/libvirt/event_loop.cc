#include "event_loop.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace memcoord {
namespace {

void QuietErrorFunc(void* /*opaque*/, virErrorPtr /*error*/) {}

// Removing itself makes the wake-up timer fire once.
void WakeOnce(int timer, void* /*opaque*/) { virEventRemoveTimeout(timer); }

class EventLoop {
 public:
  EventLoop() {
    // The default handler prints every failed call to stderr, including the
    // expected ones (no metadata, libvirtd down while reconnecting).
    virSetErrorFunc(nullptr, QuietErrorFunc);
    if (virInitialize() < 0) {
      status_ = Status::Internal("libvirt: virInitialize failed");
      return;
    }
    if (virEventRegisterDefaultImpl() < 0) {
      virErrorPtr e = virGetLastError();
      status_ = Status::Internal(
          std::string("libvirt: virEventRegisterDefaultImpl failed: ") +
          (e && e->message ? e->message : "unknown error"));
      return;
    }
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (virEventRunDefaultImpl() < 0) {
          // Not expected; do not spin if the loop is broken.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }

  ~EventLoop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    // The loop blocks until something happens; a zero timeout is something.
    if (virEventAddTimeout(0, WakeOnce, nullptr, nullptr) >= 0) {
      thread_.join();
    } else {
      thread_.detach();
    }
  }

  const Status& status() const { return status_; }

 private:
  Status status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Status StartLibvirtEventLoop() {
  static EventLoop loop;
  return loop.status();
}

}  // namespace memcoord
