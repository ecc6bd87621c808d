#include "stats_call.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

namespace memcoord {

struct StatsCall::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;       // guarded by mu
  bool abandoned = false;  // guarded by mu
  StatsResult result;      // guarded by mu; written once, before done
  std::shared_ptr<std::atomic<int>> abandoned_calls;
};

namespace {

void Run(virConnectPtr conn, unsigned int types, unsigned int flags,
         std::shared_ptr<StatsCall::Shared> shared) {
  StatsResult r;
  virDomainStatsRecordPtr* raw = nullptr;
  r.count = virConnectGetAllDomainStats(conn, types, &raw, flags);
  r.records.reset(raw);
  if (r.count < 0) {
    // libvirt's errors are per thread: this is the only thread that sees it.
    virErrorPtr e = virGetLastError();
    r.error_code = e != nullptr ? e->code : VIR_ERR_INTERNAL_ERROR;
    r.error_message = e != nullptr && e->message != nullptr
                          ? e->message
                          : "failed without an error";
    virResetLastError();
  }
  bool abandoned;
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    abandoned = shared->abandoned;
    if (!abandoned) shared->result = std::move(r);
    shared->done = true;
  }
  shared->cv.notify_all();
  // An abandoned call's records are freed here; the connection reference
  // taken by Start() is dropped either way. Only then is the call counted
  // as returned: nothing of it runs in libvirt any more.
  r.records.reset();
  virConnectClose(conn);
  if (abandoned) shared->abandoned_calls->fetch_sub(1);
}

}  // namespace

std::shared_ptr<StatsCall> StatsCall::Start(
    virConnectPtr conn, unsigned int types, unsigned int flags,
    std::shared_ptr<std::atomic<int>> abandoned) {
  auto shared = std::make_shared<Shared>();
  shared->abandoned_calls = std::move(abandoned);
  if (virConnectRef(conn) < 0) return nullptr;
  try {
    std::thread(Run, conn, types, flags, shared).detach();
  } catch (const std::system_error&) {
    virConnectClose(conn);
    return nullptr;
  }
  return std::shared_ptr<StatsCall>(new StatsCall(std::move(shared)));
}

StatsCall::StatsCall(std::shared_ptr<Shared> shared)
    : shared_(std::move(shared)) {}

StatsCall::~StatsCall() = default;

bool StatsCall::Wait(double timeout_s) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  const bool done = shared_->cv.wait_for(
      lock, std::chrono::duration<double>(timeout_s),
      [this] { return shared_->done; });
  if (!done) {
    shared_->abandoned = true;
    shared_->abandoned_calls->fetch_add(1);
  }
  return done;
}

StatsResult StatsCall::Take() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return std::move(shared_->result);
}

}  // namespace memcoord
