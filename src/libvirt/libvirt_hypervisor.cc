#include "memcoord/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "domain_metadata.h"
#include "domain_xml.h"
#include "event_loop.h"
#include "guest_params.h"
#include "host_memory.h"
#include "stats_call.h"

namespace memcoord {
namespace {

constexpr unsigned kStatsTypes =
    VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_STATE;

void QuietErrorFunc(void* /*opaque*/, virErrorPtr /*error*/) {}

struct DomainFree {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainRef =
    std::unique_ptr<std::remove_pointer_t<virDomainPtr>, DomainFree>;


std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", s);
  return buf;
}

// Calls given up on (see stats_call.h) that may be outstanding at once: a
// hung libvirtd costs this many threads, and then ticks fail at once.
constexpr int kMaxAbandonedStatsCalls = 4;

// The calling thread's last libvirt error, taken and cleared.
struct LibvirtError {
  int code = VIR_ERR_OK;
  std::string message;
};

LibvirtError TakeLastError() {
  LibvirtError out;
  virErrorPtr e = virGetLastError();
  if (e != nullptr) {
    out.code = e->code;
    out.message = e->message != nullptr ? e->message : "no message";
  } else {
    out.message = "failed without an error";
  }
  virResetLastError();
  return out;
}

std::vector<TypedParam> ToTypedParams(virTypedParameterPtr params, int n) {
  std::vector<TypedParam> out;
  out.reserve(static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) {
    const virTypedParameter& p = params[i];
    TypedParam t;
    t.name = p.field;
    switch (p.type) {
      case VIR_TYPED_PARAM_INT:
        t.type = TypedParam::Type::kInt;
        t.value = int64_t{p.value.i};
        break;
      case VIR_TYPED_PARAM_UINT:
        t.type = TypedParam::Type::kUInt;
        t.value = uint64_t{p.value.ui};
        break;
      case VIR_TYPED_PARAM_LLONG:
        t.type = TypedParam::Type::kLLong;
        t.value = int64_t{p.value.l};
        break;
      case VIR_TYPED_PARAM_ULLONG:
        t.type = TypedParam::Type::kULLong;
        t.value = uint64_t{p.value.ul};
        break;
      case VIR_TYPED_PARAM_DOUBLE:
        t.type = TypedParam::Type::kDouble;
        t.value = p.value.d;
        break;
      case VIR_TYPED_PARAM_BOOLEAN:
        t.type = TypedParam::Type::kBoolean;
        t.value = p.value.b != 0;
        break;
      case VIR_TYPED_PARAM_STRING:
        t.type = TypedParam::Type::kString;
        t.value = std::string(p.value.s != nullptr ? p.value.s : "");
        break;
      default:
        continue;
    }
    out.push_back(std::move(t));
  }
  return out;
}

// The connection state shared with libvirt's callbacks: generation << 1 | up.
// A callback belongs to one connection (generation); the close callback of an
// old connection must not mark a newer one down.
using Link = std::atomic<uint64_t>;

// What libvirt's callbacks of one connection report to the controller thread.
// Callbacks only record; all libvirt calls happen in Sample(). Owned jointly
// by the hypervisor and by libvirt (through the callbacks' opaque pointers,
// released by their free callbacks), so a late callback never sees freed
// memory.
struct ConnectionEvents {
  ConnectionEvents(std::shared_ptr<Link> l, uint64_t gen)
      : link(std::move(l)), generation(gen) {}
  std::shared_ptr<Link> link;
  const uint64_t generation;
  std::atomic<int> close_reason{-1};
  std::mutex mu;
  std::set<std::string> started;           // guarded by mu
  std::set<std::string> metadata_changed;  // guarded by mu
  std::set<std::string> redefined;  // defined, device added or removed; mu
};
using EventsHandle = std::shared_ptr<ConnectionEvents>;

void FreeEventsHandle(void* opaque) {
  delete static_cast<EventsHandle*>(opaque);
}

void OnClose(virConnectPtr /*conn*/, int reason, void* opaque) {
  ConnectionEvents& ev = **static_cast<EventsHandle*>(opaque);
  ev.close_reason.store(reason);
  uint64_t up = (ev.generation << 1) | 1;
  ev.link->compare_exchange_strong(up, ev.generation << 1);
}

void NoteRedefined(virDomainPtr dom, void* opaque) {
  const char* name = virDomainGetName(dom);
  if (name == nullptr) return;
  ConnectionEvents& ev = **static_cast<EventsHandle*>(opaque);
  std::lock_guard<std::mutex> lock(ev.mu);
  ev.redefined.insert(name);
}

void OnLifecycle(virConnectPtr /*conn*/, virDomainPtr dom, int event,
                 int /*detail*/, void* opaque) {
  if (event == VIR_DOMAIN_EVENT_DEFINED) {
    NoteRedefined(dom, opaque);
    return;
  }
  if (event != VIR_DOMAIN_EVENT_STARTED && event != VIR_DOMAIN_EVENT_RESUMED) {
    return;
  }
  const char* name = virDomainGetName(dom);
  if (name == nullptr) return;
  ConnectionEvents& ev = **static_cast<EventsHandle*>(opaque);
  std::lock_guard<std::mutex> lock(ev.mu);
  ev.started.insert(name);
}

// VIR_DOMAIN_EVENT_ID_DEVICE_ADDED and _REMOVED share this signature.
void OnDeviceChange(virConnectPtr /*conn*/, virDomainPtr dom,
                    const char* /*alias*/, void* opaque) {
  NoteRedefined(dom, opaque);
}

void OnMetadataChange(virConnectPtr /*conn*/, virDomainPtr dom, int type,
                      const char* nsuri, void* opaque) {
  if (type == VIR_DOMAIN_METADATA_ELEMENT && nsuri != nullptr &&
      std::string_view(nsuri) != kDomainMetadataNamespace) {
    return;
  }
  const char* name = virDomainGetName(dom);
  if (name == nullptr) return;
  ConnectionEvents& ev = **static_cast<EventsHandle*>(opaque);
  std::lock_guard<std::mutex> lock(ev.mu);
  ev.metadata_changed.insert(name);
}

std::string CloseReasonName(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
      return "I/O error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
      return "end of file";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
      return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
      return "closed by client";
    default:
      return "unknown reason";
  }
}

std::string DescribeSettings(const DomainSettings& s) {
  std::ostringstream out;
  if (s.min_mib) out << " min_mib=" << *s.min_mib;
  if (s.max_mib) out << " max_mib=" << *s.max_mib;
  if (s.shares) out << " shares=" << *s.shares;
  if (s.managed) out << " managed=" << (*s.managed ? "true" : "false");
  return out.str();
}

}  // namespace

class LibvirtHypervisor::Impl {
 public:
  Impl(std::string uri, const Clock* clock, Logger* logger, Options options)
      : uri_(std::move(uri)),
        clock_(clock),
        logger_(logger),
        options_(std::move(options)),
        link_(std::make_shared<Link>(0)) {
    switch (options_.host_memory) {
      case HostMemorySource::kAuto:
        use_meminfo_ = IsLocalQemuUri(uri_);
        break;
      case HostMemorySource::kProcMeminfo:
        use_meminfo_ = true;
        break;
      case HostMemorySource::kNodeStats:
        use_meminfo_ = false;
        break;
    }
  }

  ~Impl() {
    std::lock_guard<std::mutex> lock(mu_);
    Disconnect();
    // Calls still stuck at exit may call back into these: never freed then.
    if (abandoned_stats_->load() > 0) {
      for (auto& h : retired_close_handles_) h.release();
    }
  }

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    loop_status_ = StartLibvirtEventLoop();
    if (!loop_status_.ok()) {
      Log(LogLevel::kError, loop_status_.message());
      return;
    }
    TryConnect(clock_->NowSeconds());
  }

  const std::string& uri() const { return uri_; }

  void SetDomainFilter(Hypervisor::DomainFilter filter) {
    std::lock_guard<std::mutex> lock(mu_);
    filter_ = std::move(filter);
  }

  void SetCommandFilter(Hypervisor::CommandFilter filter) {
    std::lock_guard<std::mutex> lock(mu_);
    command_filter_ = std::move(filter);
  }

  Result<Snapshot> Sample() {
    std::lock_guard<std::mutex> lock(mu_);
    const double now = clock_->NowSeconds();
    if (!retired_close_handles_.empty() && abandoned_stats_->load() == 0) {
      retired_close_handles_.clear();
    }
    if (Status s = EnsureConnected(now); !s.ok()) return s;
    DrainEvents();

    Result<StatsResult> stats = FetchStats();
    if (!stats.ok()) return stats.status();
    const int n = stats->count;
    const StatsRecords& records = stats->records;

    Result<HostSample> host = ReadHost();
    if (!host.ok()) return host.status();

    Snapshot snap;
    snap.time_s = now;
    snap.host = *host;
    // While a stats call is stuck, a guest without statistics may be the one
    // it waits for (NOWAIT skipped it): no command may wait on it either.
    stats_may_be_skipped_ = stats->nowait;
    unanswered_.clear();
    std::set<std::string> seen;
    for (int i = 0; i < n; ++i) {
      virDomainStatsRecordPtr rec = records.get()[i];
      const char* cname = virDomainGetName(rec->dom);
      if (cname == nullptr) continue;
      std::string name = cname;
      // Excluded guests are not ours: no metadata read, no stats period set.
      if (filter_ && !filter_(name)) continue;
      seen.insert(name);
      std::optional<GuestSample> g = SampleGuest(name, rec);
      if (g) snap.guests.push_back(std::move(*g));
    }
    for (auto it = guests_.begin(); it != guests_.end();) {
      if (seen.count(it->first) != 0) {
        ++it;
        continue;
      }
      // The controller logs the guest's going ("domain X is gone").
      it = guests_.erase(it);
    }
    return snap;
  }

  Status SetTarget(const std::string& domain, int64_t target_kib) {
    std::lock_guard<std::mutex> lock(mu_);
    if (target_kib <= 0) {
      return Status::InvalidArgument(
          "libvirt: target " + std::to_string(target_kib) +
          " KiB for domain '" + domain + "' is not positive");
    }
    if (!Connected()) {
      return Status::Unavailable("libvirt: not connected to " + uri_);
    }
    if (unanswered_.count(domain) != 0) {
      return Status::Unavailable(
          "libvirt: domain '" + domain +
          "' has not answered for its statistics (its QEMU may hang); no "
          "command sent");
    }
    auto it = guests_.find(domain);
    DomainRef looked_up;
    virDomainPtr dom = nullptr;
    if (it != guests_.end()) {
      dom = it->second.dom.get();
    } else {
      looked_up.reset(Call("virDomainLookupByName", [&] {
        return virDomainLookupByName(conn_, domain.c_str());
      }));
      if (!looked_up) {
        return SetFailed(domain, "virDomainLookupByName", nullptr);
      }
      dom = looked_up.get();
    }
    if (Call("virDomainSetMemoryFlags", [&] {
          return virDomainSetMemoryFlags(dom,
                                         static_cast<unsigned long>(target_kib),
                                         VIR_DOMAIN_AFFECT_LIVE);
        }) < 0) {
      return SetFailed(domain, "virDomainSetMemoryFlags", dom);
    }
    not_found_logged_.erase(domain);
    if (it != guests_.end()) {
      it->second.last_target_kib = target_kib;
      it->second.set_error.clear();
    }
    return Status::Ok();
  }

  HypervisorHealth Health() const {
    HypervisorHealth h;
    h.up = (link_->load() & 1) != 0;
    h.reconnects = reconnects_.load();
    std::lock_guard<std::mutex> lock(calls_mu_);
    h.calls = calls_;
    h.call_durations = call_durations_;
    return h;
  }

 private:
  // What we remember about one running guest between ticks.
  struct GuestState {
    DomainRef dom;  // our own reference, from the stats record
    int id = -1;    // changes when the guest is restarted
    bool metadata_needed = true;
    DomainSettings settings;
    bool xml_needed = true;
    DomainXmlFacts facts;   // from the live domain XML
    std::string xml_error;  // last one logged
    std::string metadata_error;  // last one logged
    bool period_tried = false;
    bool stats_dropped = false;  // its stats are ignored now (logged once)
    std::optional<int64_t> last_target_kib;
    std::string set_error;  // last SetTarget failure logged
  };

  void Log(LogLevel level, const std::string& message) {
    if (logger_ != nullptr) logger_->Log(level, message);
  }

  // Runs `f` (one libvirt call, or the host read), counts it under `call`
  // and records its time on the steady clock. Returns what `f` returns.
  template <typename F>
  std::invoke_result_t<F&> Call(const char* call, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    std::invoke_result_t<F&> result = f();
    Record(call, SecondsSince(start));
    return result;
  }

  // Counts one call that took `seconds`.
  void Record(const char* call, double seconds) {
    std::lock_guard<std::mutex> lock(calls_mu_);
    ++calls_[call];
    call_durations_[call].Observe(seconds);
  }

  static double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

  bool Connected() const {
    return conn_ != nullptr && (link_->load() & 1) != 0;
  }

  void MarkDown() { link_->store(generation_ << 1); }

  // Makes sure there is a live connection, reconnecting when the backoff
  // allows. Never blocks longer than one connect attempt.
  Status EnsureConnected(double now) {
    if (!loop_status_.ok()) return loop_status_;
    if (Connected()) return Status::Ok();
    // Stats calls given up on still run on the lost connection: it is closed,
    // and a new one opened, only once they have returned (libvirt's client
    // does not survive closing a connection under calls in flight).
    if (conn_ != nullptr && abandoned_stats_->load() > 0) {
      return Status::Unavailable(
          "libvirt: connection to " + uri_ + " lost; waiting for " +
          std::to_string(abandoned_stats_->load()) +
          " stats calls in flight to return before reconnecting");
    }
    if (conn_ != nullptr) {
      int reason = events_ ? events_->close_reason.load() : -1;
      Log(LogLevel::kWarn,
          "libvirt: connection to " + uri_ + " lost (" +
              (reason >= 0 ? CloseReasonName(reason) : "call failed") +
              "); reconnecting");
      Disconnect();
      // Try again right away: libvirtd may have been restarted already.
      next_attempt_s_ = now;
      backoff_s_ = 0;
    }
    if (now < next_attempt_s_) {
      return Status::Unavailable("libvirt: not connected to " + uri_ + ": " +
                                 last_connect_error_);
    }
    if (TryConnect(now)) return Status::Ok();
    return Status::Unavailable("libvirt: cannot connect to " + uri_ + ": " +
                               last_connect_error_);
  }

  bool TryConnect(double now) {
    virConnectPtr conn =
        Call("virConnectOpen", [&] { return virConnectOpen(uri_.c_str()); });
    if (conn == nullptr) {
      LibvirtError e = TakeLastError();
      if (!connect_failure_logged_) {
        Log(LogLevel::kWarn, "libvirt: cannot connect to " + uri_ + ": " +
                                 e.message + " (retrying)");
        connect_failure_logged_ = true;
      }
      last_connect_error_ = e.message;
      backoff_s_ = backoff_s_ <= 0
                       ? options_.reconnect_initial_s
                       : std::min(backoff_s_ * 2, options_.reconnect_max_s);
      next_attempt_s_ = now + backoff_s_;
      return false;
    }
    virConnSetErrorFunc(conn, nullptr, QuietErrorFunc);
    conn_ = conn;
    ++generation_;
    events_ = std::make_shared<ConnectionEvents>(link_, generation_);
    link_->store((generation_ << 1) | 1);

    if (Call("virConnectSetKeepAlive", [&] {
          return virConnectSetKeepAlive(conn_, options_.keepalive_interval_s,
                                        options_.keepalive_count);
        }) < 0) {
      // Local drivers have no keepalive; the close callback still works.
      Log(LogLevel::kDebug,
          "libvirt: keepalive not enabled: " + TakeLastError().message);
    }
    RegisterCallbacks();
    node_nparams_ = 0;

    connect_failure_logged_ = false;
    last_connect_error_.clear();
    backoff_s_ = 0;
    if (ever_connected_) {
      reconnects_.fetch_add(1);
      Log(LogLevel::kInfo, "libvirt: reconnected to " + uri_);
    } else {
      Log(LogLevel::kInfo, "libvirt: connected to " + uri_);
    }
    ever_connected_ = true;
    return true;
  }

  void RegisterCallbacks() {
    // The close callback's handle stays ours (no free callback): a driver
    // without close callbacks (test:///) reports success and drops it, so
    // libvirt cannot be trusted to free it. Disconnect() frees it once the
    // callback is unregistered and the connection closed; libvirt calls the
    // callback under a lock that unregistering takes too.
    close_handle_ = std::make_unique<EventsHandle>(events_);
    if (Call("virConnectRegisterCloseCallback", [&] {
          return virConnectRegisterCloseCallback(conn_, OnClose,
                                                 close_handle_.get(), nullptr);
        }) < 0) {
      close_handle_.reset();
      Log(LogLevel::kWarn,
          "libvirt: no close callback: " + TakeLastError().message);
    }
    auto* lifecycle_handle = new EventsHandle(events_);
    lifecycle_cb_ = Call("virConnectDomainEventRegisterAny", [&] {
      return virConnectDomainEventRegisterAny(
          conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
          VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), lifecycle_handle,
          FreeEventsHandle);
    });
    if (lifecycle_cb_ < 0) {
      FreeEventsHandle(lifecycle_handle);
      Log(LogLevel::kWarn,
          "libvirt: no lifecycle events: " + TakeLastError().message);
    }
    auto* metadata_handle = new EventsHandle(events_);
    metadata_cb_ = Call("virConnectDomainEventRegisterAny", [&] {
      return virConnectDomainEventRegisterAny(
          conn_, nullptr, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
          VIR_DOMAIN_EVENT_CALLBACK(OnMetadataChange), metadata_handle,
          FreeEventsHandle);
    });
    if (metadata_cb_ < 0) {
      FreeEventsHandle(metadata_handle);
      Log(LogLevel::kWarn,
          "libvirt: no metadata events: " + TakeLastError().message);
    }
    for (auto [id, cb] : {std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                    &device_added_cb_},
                          std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                    &device_removed_cb_}}) {
      auto* device_handle = new EventsHandle(events_);
      *cb = Call("virConnectDomainEventRegisterAny", [&] {
        return virConnectDomainEventRegisterAny(
            conn_, nullptr, id, VIR_DOMAIN_EVENT_CALLBACK(OnDeviceChange),
            device_handle, FreeEventsHandle);
      });
      if (*cb < 0) {
        FreeEventsHandle(device_handle);
        Log(LogLevel::kWarn,
            "libvirt: no device events: " + TakeLastError().message);
      }
    }
  }

  // Drops the connection and everything that belongs to it. Failures are
  // expected here (the daemon may be gone) and ignored.
  void Disconnect() {
    MarkDown();
    guests_.clear();
    if (conn_ == nullptr) return;
    if (lifecycle_cb_ >= 0) {
      virConnectDomainEventDeregisterAny(conn_, lifecycle_cb_);
    }
    if (metadata_cb_ >= 0) {
      virConnectDomainEventDeregisterAny(conn_, metadata_cb_);
    }
    for (int cb : {device_added_cb_, device_removed_cb_}) {
      if (cb >= 0) virConnectDomainEventDeregisterAny(conn_, cb);
    }
    if (close_handle_) virConnectUnregisterCloseCallback(conn_, OnClose);
    lifecycle_cb_ = metadata_cb_ = device_added_cb_ = device_removed_cb_ = -1;
    virConnectClose(conn_);
    virResetLastError();
    conn_ = nullptr;
    // A stats call given up on still runs on the old connection and may
    // report its close through this handle: it lives until they returned.
    if (close_handle_ && abandoned_stats_->load() > 0) {
      retired_close_handles_.push_back(std::move(close_handle_));
    }
    close_handle_.reset();
    events_.reset();
  }

  // Applies what the event callbacks saw since the last tick: a guest that
  // started (again) is treated as new, so its definition and metadata are
  // read and its stats period checked; a metadata change makes the next tick
  // re-read the metadata, a redefinition or a device added or removed the
  // domain XML.
  void DrainEvents() {
    std::set<std::string> started, changed, redefined;
    {
      std::lock_guard<std::mutex> lock(events_->mu);
      started.swap(events_->started);
      changed.swap(events_->metadata_changed);
      redefined.swap(events_->redefined);
    }
    for (const std::string& name : started) {
      if (guests_.erase(name) != 0) {
        Log(LogLevel::kDebug, "libvirt: domain '" + name +
                                  "' started or resumed; reading it as new");
      }
    }
    for (const std::string& name : changed) {
      auto it = guests_.find(name);
      if (it != guests_.end()) it->second.metadata_needed = true;
    }
    for (const std::string& name : redefined) {
      auto it = guests_.find(name);
      if (it == guests_.end()) continue;
      Log(LogLevel::kDebug, "libvirt: domain '" + name +
                                "' redefined or a device changed; reading "
                                "its definition again");
      it->second.xml_needed = true;
    }
  }

  // Turns a failed call into a Status; marks the connection down when the
  // failure was the connection's.
  // The bulk stats call, waited for at most options_.stats_timeout_s. One
  // that does not return by then (a guest's QEMU or libvirtd hangs) is
  // abandoned and asked once more with NOWAIT, which leaves out the
  // statistics of the guest the first call is stuck on, so the others are
  // sampled. NOWAIT is used only while a call is stuck: it also skips a
  // guest that another client (virsh, an exporter) is querying that moment.
  Result<StatsResult> FetchStats() {
    constexpr unsigned kRunning = VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING;
    constexpr unsigned kNowait = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
    constexpr const char* kCall = "virConnectGetAllDomainStats";
    const std::string call = kCall;
    for (int attempt = 1; attempt <= 2; ++attempt) {
      const int stuck = abandoned_stats_->load();
      const unsigned flags =
          kRunning | (attempt > 1 || stuck > 0 ? kNowait : 0);
      if (stuck >= kMaxAbandonedStatsCalls) {
        return Status::Unavailable(
            "libvirt: " + std::to_string(stuck) + " earlier " + call +
            " calls have not returned (libvirtd or a guest's QEMU hangs)");
      }
      const auto start = std::chrono::steady_clock::now();
      std::shared_ptr<StatsCall> pending =
          StatsCall::Start(conn_, kStatsTypes, flags, abandoned_stats_);
      if (pending == nullptr) {
        return Status::Unavailable("libvirt: " + call +
                                   ": cannot start a thread for the call");
      }
      const bool returned = pending->Wait(options_.stats_timeout_s);
      // A call given up on counts with the time waited for it.
      Record(kCall, SecondsSince(start));
      if (returned) {
        StatsResult r = pending->Take();
        if (r.count < 0) {
          return CallFailedWith({r.error_code, r.error_message}, call, "");
        }
        r.nowait = (flags & kNowait) != 0;
        return r;
      }
      Log(LogLevel::kWarn,
          "libvirt: " + call + " did not return within " +
              FormatSeconds(options_.stats_timeout_s) + " s" +
              (attempt == 1 ? "; asking again without the guests it waits for"
                            : "; this tick samples nothing"));
    }
    return Status::Unavailable("libvirt: " + call + " did not return within " +
                               FormatSeconds(options_.stats_timeout_s) +
                               " s, twice (libvirtd hangs?)");
  }

  Status CallFailed(const std::string& call, const std::string& domain,
                    virDomainPtr dom = nullptr) {
    return CallFailedWith(TakeLastError(), call, domain, dom);
  }

  // CallFailed() for an error taken on another thread.
  Status CallFailedWith(const LibvirtError& e, const std::string& call,
                        const std::string& domain, virDomainPtr dom = nullptr) {
    std::string what = "libvirt: " + call +
                       (domain.empty() ? "" : " on '" + domain + "'") + ": " +
                       e.message;
    if (conn_ != nullptr && virConnectIsAlive(conn_) != 1) {
      virResetLastError();
      MarkDown();
      return Status::Unavailable(what);
    }
    if (e.code == VIR_ERR_NO_DOMAIN) return Status::NotFound(what);
    if (e.code == VIR_ERR_OPERATION_INVALID && dom != nullptr) {
      // Also raised for a running guest without a balloon driver; only a
      // guest that is no longer active counts as gone.
      int active =
          Call("virDomainIsActive", [&] { return virDomainIsActive(dom); });
      virResetLastError();
      if (active != 1) return Status::NotFound(what);
    }
    return Status::Internal(what);
  }

  Status SetFailed(const std::string& domain, const std::string& call,
                   virDomainPtr dom) {
    Status s = CallFailed(call, domain, dom);
    if (s.code() == Status::Code::kNotFound) {
      if (not_found_logged_.insert(domain).second) {
        Log(LogLevel::kWarn, s.message() + " (domain vanished or stopped)");
      }
      return s;
    }
    auto it = guests_.find(domain);
    if (it == guests_.end() || it->second.set_error != s.message()) {
      Log(LogLevel::kWarn, s.message());
      if (it != guests_.end()) it->second.set_error = s.message();
    }
    return s;
  }

  Result<HostSample> ReadHost() {
    if (use_meminfo_) {
      std::string text;
      const bool read = Call("proc_meminfo", [&] {
        std::ifstream in(options_.meminfo_path);
        if (!in.is_open()) return false;
        std::stringstream contents;
        contents << in.rdbuf();
        text = contents.str();
        return true;
      });
      if (!read) {
        return Status::Unavailable("cannot read " + options_.meminfo_path);
      }
      return ParseMeminfo(text);
    }
    if (node_nparams_ == 0) {
      // libvirt wants the exact field count; ask once per connection.
      int count = 0;
      if (Call("virNodeGetMemoryStats",
               [&] {
                 return virNodeGetMemoryStats(conn_,
                                              VIR_NODE_MEMORY_STATS_ALL_CELLS,
                                              nullptr, &count, 0);
               }) < 0 ||
          count <= 0) {
        return CallFailed("virNodeGetMemoryStats", "");
      }
      node_nparams_ = count;
    }
    std::vector<virNodeMemoryStats> stats(static_cast<size_t>(node_nparams_));
    int count = node_nparams_;
    if (Call("virNodeGetMemoryStats", [&] {
          return virNodeGetMemoryStats(conn_, VIR_NODE_MEMORY_STATS_ALL_CELLS,
                                       stats.data(), &count, 0);
        }) < 0) {
      node_nparams_ = 0;
      return CallFailed("virNodeGetMemoryStats", "");
    }
    std::vector<std::pair<std::string, uint64_t>> fields;
    for (int i = 0; i < count && i < node_nparams_; ++i) {
      fields.emplace_back(stats[static_cast<size_t>(i)].field,
                          stats[static_cast<size_t>(i)].value);
    }
    return HostSampleFromNodeStats(fields);
  }

  // One guest of this tick's stats; nullopt when libvirt gave no balloon size.
  std::optional<GuestSample> SampleGuest(const std::string& name,
                                         virDomainStatsRecordPtr rec) {
    const int id = virDomainGetID(rec->dom);
    auto [it, inserted] = guests_.try_emplace(name);
    GuestState& st = it->second;
    if (!inserted && st.id != id) {
      Log(LogLevel::kInfo, "libvirt: domain '" + name + "' was restarted");
      st = GuestState();
      inserted = true;
    }
    if (inserted) {
      virDomainRef(rec->dom);
      st.dom.reset(rec->dom);
      st.id = id;
      not_found_logged_.erase(name);
    }

    std::string dropped;
    Result<GuestSample> g = GuestSampleFromParams(
        name, ToTypedParams(rec->params, rec->nparams), &dropped);
    if (!g.ok()) {
      if (!st.stats_dropped) {
        Log(LogLevel::kWarn, g.status().message() + "; domain skipped");
        st.stats_dropped = true;
      }
      return std::nullopt;
    }
    // The controller logs a guest's appearing, its stats coming and going
    // and its going; only what the controller cannot see is logged here,
    // once each time it starts: stats dropped as absurd.
    if (!dropped.empty() && !st.stats_dropped) {
      Log(LogLevel::kWarn, "libvirt: domain '" + name +
                               "' balloon stats ignored as absurd: " + dropped);
    }
    st.stats_dropped = !dropped.empty();

    if (st.xml_needed) ReadDomainXml(name, st);
    if (st.metadata_needed) ReadMetadata(name, st);
    // Untried while the guest may not be changed (dry-run, unmanaged): a
    // reload that allows it tries then.
    if (!g->has_stats() && stats_may_be_skipped_) {
      unanswered_.insert(name);
    } else if (!g->has_stats() && dropped.empty() && !st.period_tried &&
               (!command_filter_ || command_filter_(name, st.settings))) {
      SetStatsPeriod(name, st);
    }
    g->metadata = st.settings;
    g->uuid = st.facts.uuid;
    g->balloon = st.facts.balloon;
    g->target_kib = st.last_target_kib;
    return std::move(*g);
  }

  // The guest's UUID and balloon device, from its live definition. A call
  // that fails is tried again next tick; a definition that cannot be parsed
  // leaves the facts unknown until the next redefinition.
  void ReadDomainXml(const std::string& name, GuestState& st) {
    st.xml_needed = false;
    char* xml = Call("virDomainGetXMLDesc",
                     [&] { return virDomainGetXMLDesc(st.dom.get(), 0); });
    std::string error;
    if (xml == nullptr) {
      LibvirtError e = TakeLastError();
      if (conn_ != nullptr && virConnectIsAlive(conn_) != 1) MarkDown();
      error = "cannot read its definition: " + e.message;
      st.xml_needed = true;
    } else {
      Result<DomainXmlFacts> parsed = ParseDomainXml(xml);
      std::free(xml);
      if (parsed.ok()) {
        st.facts = std::move(*parsed);
      } else {
        st.facts = DomainXmlFacts();
        error = "ignoring its definition: " + parsed.status().message();
      }
    }
    if (error.empty()) {
      st.xml_error.clear();
    } else if (error != st.xml_error) {
      Log(LogLevel::kWarn, "libvirt: domain '" + name + "' " + error);
      st.xml_error = error;
    }
  }

  void ReadMetadata(const std::string& name, GuestState& st) {
    st.metadata_needed = false;
    const std::string ns(kDomainMetadataNamespace);
    char* xml = Call("virDomainGetMetadata", [&] {
      return virDomainGetMetadata(st.dom.get(), VIR_DOMAIN_METADATA_ELEMENT,
                                  ns.c_str(), VIR_DOMAIN_AFFECT_LIVE);
    });
    std::string error;
    DomainSettings settings;
    if (xml == nullptr) {
      LibvirtError e = TakeLastError();
      if (e.code != VIR_ERR_NO_DOMAIN_METADATA) {
        if (conn_ != nullptr && virConnectIsAlive(conn_) != 1) MarkDown();
        error = "cannot read metadata: " + e.message;
        // Try again next tick: this was not an answer.
        st.metadata_needed = true;
      }
    } else {
      Result<DomainSettings> parsed = ParseDomainSettingsXml(xml);
      std::free(xml);
      if (parsed.ok()) {
        settings = *parsed;
      } else {
        error = "ignoring metadata: " + parsed.status().message();
      }
    }
    if (error.empty()) {
      if (DescribeSettings(settings) != DescribeSettings(st.settings) ||
          !st.metadata_error.empty()) {
        Log(LogLevel::kInfo,
            "libvirt: domain '" + name + "' metadata:" +
                (settings.empty() ? std::string(" none")
                                  : DescribeSettings(settings)));
      }
      st.settings = settings;
      st.metadata_error.clear();
    } else if (error != st.metadata_error) {
      Log(LogLevel::kWarn, "libvirt: domain '" + name + "' " + error);
      st.metadata_error = error;
    }
  }

  void SetStatsPeriod(const std::string& name, GuestState& st) {
    st.period_tried = true;
    if (Call("virDomainSetMemoryStatsPeriod", [&] {
          return virDomainSetMemoryStatsPeriod(
              st.dom.get(), options_.stats_period_s, VIR_DOMAIN_AFFECT_LIVE);
        }) < 0) {
      Log(LogLevel::kWarn,
          "libvirt: domain '" + name +
              "': cannot turn on balloon stats: " + TakeLastError().message);
      return;
    }
    // The live definition now says so too; no need to read it again.
    st.facts.balloon.stats_period_s = options_.stats_period_s;
    Log(LogLevel::kInfo, "libvirt: domain '" + name +
                             "': balloon stats period set to " +
                             std::to_string(options_.stats_period_s) + " s");
  }

  Hypervisor::DomainFilter filter_;           // guarded by mu_
  Hypervisor::CommandFilter command_filter_;  // guarded by mu_
  const std::string uri_;
  const Clock* const clock_;
  Logger* const logger_;
  const Options options_;
  bool use_meminfo_ = false;
  const std::shared_ptr<Link> link_;  // read by Health() from any thread
  // This tick's guests without statistics while a stats call was stuck.
  bool stats_may_be_skipped_ = false;
  std::set<std::string> unanswered_;
  // Stats calls given up on that have not returned yet (stats_call.h).
  const std::shared_ptr<std::atomic<int>> abandoned_stats_ =
      std::make_shared<std::atomic<int>>(0);
  std::atomic<int64_t> reconnects_{0};
  mutable std::mutex calls_mu_;
  std::map<std::string, int64_t> calls_;                 // guarded by calls_mu_
  std::map<std::string, CallDurations> call_durations_;  // guarded by calls_mu_

  // Everything below is guarded by mu_ (the controller's thread in practice).
  std::mutex mu_;
  Status loop_status_;
  virConnectPtr conn_ = nullptr;
  uint64_t generation_ = 0;
  std::shared_ptr<ConnectionEvents> events_;
  // The close callback's opaque; set while the callback is registered.
  std::unique_ptr<EventsHandle> close_handle_;
  // Close handles of earlier connections that stats calls given up on may
  // still use (see Disconnect()).
  std::vector<std::unique_ptr<EventsHandle>> retired_close_handles_;
  int lifecycle_cb_ = -1;
  int metadata_cb_ = -1;
  int device_added_cb_ = -1;
  int device_removed_cb_ = -1;
  int node_nparams_ = 0;
  bool ever_connected_ = false;
  bool connect_failure_logged_ = false;
  std::string last_connect_error_;
  double next_attempt_s_ = 0;
  double backoff_s_ = 0;
  std::map<std::string, GuestState> guests_;
  std::set<std::string> not_found_logged_;
};

std::unique_ptr<LibvirtHypervisor> LibvirtHypervisor::Create(std::string uri,
                                                             const Clock* clock,
                                                             Logger* logger,
                                                             Options options) {
  auto impl =
      std::make_unique<Impl>(std::move(uri), clock, logger, std::move(options));
  impl->Start();
  return std::unique_ptr<LibvirtHypervisor>(
      new LibvirtHypervisor(std::move(impl)));
}

LibvirtHypervisor::LibvirtHypervisor(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

LibvirtHypervisor::~LibvirtHypervisor() = default;

Result<Snapshot> LibvirtHypervisor::Sample() { return impl_->Sample(); }

Status LibvirtHypervisor::SetTarget(const std::string& domain,
                                    int64_t target_kib) {
  return impl_->SetTarget(domain, target_kib);
}

HypervisorHealth LibvirtHypervisor::Health() const { return impl_->Health(); }

void LibvirtHypervisor::SetDomainFilter(DomainFilter filter) {
  impl_->SetDomainFilter(std::move(filter));
}

void LibvirtHypervisor::SetCommandFilter(CommandFilter filter) {
  impl_->SetCommandFilter(std::move(filter));
}

const std::string& LibvirtHypervisor::uri() const { return impl_->uri(); }

}  // namespace memcoord
