// LibvirtHypervisor: the Hypervisor backed by a libvirt connection.
//
// Keeps one persistent connection to `uri` (qemu:///system when run as root),
// with libvirt's default event loop running in a process-wide thread, keepalive
// and a close callback. libvirtd being down is never fatal: Sample() and
// SetTarget() return kUnavailable and Health().up is false until a reconnect,
// tried from Sample() with a backoff that starts at `reconnect_initial_s` and
// doubles up to `reconnect_max_s`. Keep reconnect_max_s at or below the tick
// interval so that the connection comes back within two intervals of
// libvirtd's return.
//
// Per tick, Sample() makes exactly one virConnectGetAllDomainStats call
// (balloon + state, running guests) and one host call: /proc/meminfo on a
// local QEMU URI ("proc_meminfo"), virNodeGetMemoryStats otherwise. Only when a
// guest is first seen (or an event says it started) does it also read the
// guest's live definition (virDomainGetXMLDesc: UUID, and the balloon's
// autodeflate, freePageReporting and stats period, into GuestSample::uuid
// and ::balloon), its metadata (virDomainGetMetadata, namespace
// https://memcoord.dev/xmlns/domain/1, element <settings .../>) and, if the
// guest reports no balloon stats, turn the stats period on once
// (virDomainSetMemoryStatsPeriod, live). A metadata change event makes the
// next Sample() read the metadata again; a define, device-added or
// device-removed event the definition. SetTarget() makes one
// virDomainSetMemoryFlags(LIVE) call (plus virDomainLookupByName for a guest
// Sample() has not seen). Every libvirt call is counted in Health().calls
// and timed (steady clock) in Health().call_durations.
//
// Sizes are KiB; times come from the injected Clock. A guest whose stats are
// absurd is listed without stats (logged once per change). Errors: kUnavailable
// while disconnected, kNotFound for a guest that is gone or not running,
// kInternal for any other libvirt failure, with libvirt's message; libvirt's
// own printing to stderr is switched off.
//
// Thread-safety: Sample() and SetTarget() from one thread (the controller's);
// Health() from any thread. libvirt's event and close callbacks run on the
// event loop thread and only record what happened for the next Sample().
#ifndef MEMCOORD_LIBVIRT_HYPERVISOR_H_
#define MEMCOORD_LIBVIRT_HYPERVISOR_H_

#include <memory>
#include <string>

#include "memcoord/clock.h"
#include "memcoord/hypervisor.h"
#include "memcoord/log.h"

namespace memcoord {

// Where host memory comes from.
enum class HostMemorySource {
  kAuto,  // /proc/meminfo on a local QEMU URI, else virNodeGetMemoryStats
  kProcMeminfo,
  kNodeStats,
};

struct LibvirtOptions {
  int stats_period_s = 1;  // set on guests that report no stats
  // virConnectSetKeepAlive; <= 0 turns libvirt's keepalive off, the default.
  // The stats call's deadline is what notices a hung libvirtd; a keepalive
  // that closes the connection under a stats call still waiting crashes
  // libvirt 9.0's client, and a dead libvirtd is noticed by its socket.
  int keepalive_interval_s = 0;
  unsigned keepalive_count = 3;
  double reconnect_initial_s = 0.5;  // first wait after a failed connect
  double reconnect_max_s = 2.0;      // cap of the doubling backoff
  // How long a tick waits for the bulk stats call before it gives up on it
  // and asks once more without the guests it waits for (a hung QEMU).
  double stats_timeout_s = 1.0;
  HostMemorySource host_memory = HostMemorySource::kAuto;
  std::string meminfo_path = "/proc/meminfo";
};

class LibvirtHypervisor : public Hypervisor {
 public:
  using Options = LibvirtOptions;

  // Never fails: if libvirtd cannot be reached now, the first connect is
  // retried from Sample(). `clock` and `logger` must outlive the object.
  static std::unique_ptr<LibvirtHypervisor> Create(std::string uri,
                                                   const Clock* clock,
                                                   Logger* logger,
                                                   Options options = {});
  ~LibvirtHypervisor() override;
  LibvirtHypervisor(const LibvirtHypervisor&) = delete;
  LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

  Result<Snapshot> Sample() override;
  Status SetTarget(const std::string& domain, int64_t target_kib) override;
  HypervisorHealth Health() const override;
  // Guests the filter rejects are left out of Sample() and cost no call
  // beyond their share of the one bulk stats call.
  void SetDomainFilter(DomainFilter filter) override;
  void SetCommandFilter(CommandFilter filter) override;

  // The URI this instance connects to.
  const std::string& uri() const;

 private:
  class Impl;
  explicit LibvirtHypervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace memcoord

#endif  // MEMCOORD_LIBVIRT_HYPERVISOR_H_
