// StatsCall: one virConnectGetAllDomainStats call on a thread of its own, so
// that the tick can stop waiting for it.
//
// Why: libvirt waits for QEMU's monitor without a deadline, so one guest
// whose QEMU hangs (stopped, swapped out, stuck in I/O) holds the bulk
// stats call, and with it every guest's decisions, for as long as it hangs;
// a hung libvirtd holds it until keepalive gives up. With
// VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT a call skips the statistics of a
// guest whose monitor is busy with an earlier call, so once one call is
// stuck on a guest, the next returns at once with that guest's size but no
// balloon statistics (its stats go stale, and it gets no commands). NOWAIT
// also skips a guest that another client is querying at that moment, so it
// is for when a call is already stuck, not for every call.
//
// A call that outlives its wait is abandoned: it keeps its own reference to
// the connection, frees its own result when it returns at last, and ends.
//
// Thread-safety: Start(), Wait() and Take() are called from one thread (the
// one that samples); the call's thread shares only the guarded state.
#ifndef MEMCOORD_SRC_LIBVIRT_STATS_CALL_H_
#define MEMCOORD_SRC_LIBVIRT_STATS_CALL_H_

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <memory>
#include <string>

namespace memcoord {

// The records of one call; frees them (and their domain references).
struct StatsRecordsFree {
  void operator()(virDomainStatsRecordPtr* r) const {
    if (r != nullptr) virDomainStatsRecordListFree(r);
  }
};
using StatsRecords = std::unique_ptr<virDomainStatsRecordPtr, StatsRecordsFree>;

struct StatsResult {
  int count = -1;  // -1: the call failed (error_code, error_message)
  StatsRecords records;
  int error_code = VIR_ERR_OK;
  std::string error_message;
  // Asked with NOWAIT: a guest without balloon statistics may be one whose
  // monitor was busy, not one that reports none.
  bool nowait = false;
};

class StatsCall {
 public:
  // Starts the call on `conn` with these stats types and flags. `abandoned`
  // counts the calls given up on whose thread is still inside libvirt
  // (shared by every call of one connection). Null when no thread could be started.
  static std::shared_ptr<StatsCall> Start(
      virConnectPtr conn, unsigned int types, unsigned int flags,
      std::shared_ptr<std::atomic<int>> abandoned);
  ~StatsCall();
  StatsCall(const StatsCall&) = delete;
  StatsCall& operator=(const StatsCall&) = delete;

  // Waits up to `timeout_s` for the call to return. True: its result is
  // ready for Take(). False: the call is abandoned (counted until it
  // returns) and this object must not be asked again.
  bool Wait(double timeout_s);
  StatsResult Take();

  struct Shared;

 private:
  explicit StatsCall(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_STATS_CALL_H_
