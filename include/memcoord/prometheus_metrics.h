// PrometheusMetrics: the MetricsSink that publishes every tick on HTTP for
// Prometheus (DESIGN section 8 lists the metric names; they are a contract).
//
// Endpoints (GET and HEAD; any other method is 405 with `Allow: GET, HEAD`):
//   /metrics   Prometheus text exposition format 0.0.4
//   /healthz   200 while the last tick is younger than three intervals (and
//              during the first three intervals after Start), else 503; the
//              body says why in one line
//   /          a small HTML page linking to both
//   other      404
//
// Tick consistency: Record() builds the complete set of metric families for
// one tick off to the side and then swaps it in as one immutable snapshot, so
// a scrape running concurrently with Record() sees either the previous tick
// or the new one for every guest, never a mix. The exposition text is
// rendered inside Record() too (tens of milliseconds for 1000 guests, on the
// tick thread), so a scrape only copies bytes.
//
// Units: sizes are exported in bytes (the model's KiB x 1024), times in
// seconds. Guest swap counters are KiB in the sample and bytes here.
//
// Counters:
//   - memcoord_domain_{swap_in_bytes,swap_out_bytes,major_faults}_total mirror
//     the guest's cumulative values. When a guest value goes backwards (the
//     guest rebooted) the exported counter stays monotonic: the new value is
//     added on top of what was exported.
//   - memcoord_balloon_actions_total and _moved_bytes_total count actions
//     sent successfully; in dry-run they count the planned actions, the ones
//     that would have been sent. memcoord_balloon_errors_total counts failed
//     sets.
//   - Every series of a guest that is no longer in the snapshot is removed by
//     the next Record(), counters included; a guest that comes back starts
//     its counters again from its own values (Prometheus sees a reset).
//   - A tick whose sample failed (TickReport::sample_status not OK) keeps the
//     previous guests' gauges (their stats_age keeps growing) and counts in
//     memcoord_sample_errors_total; loop metrics are updated as usual.
//
// Security (both optional, from the `web:` config section):
//   - TLS: `tls_cert_file` (PEM, certificate chain) and `tls_key_file` (PEM
//     private key); both or neither. CivetWeb loads OpenSSL at run time
//     (libssl.so) and needs the OpenSSL 1.1 symbol names: with OpenSSL 3
//     (Debian 12's libcivetweb 1.15) it cannot, and Start() fails with
//     kUnavailable saying so. Terminate TLS in front (a reverse proxy) there.
//   - Basic auth: `basic_auth_file`, one `user:secret` per line, where secret
//     is either `sha256:` followed by 64 hex digits (SHA-256 of the password)
//     or the plain password. Blank lines and lines starting with '#' are
//     ignored. A plain password that itself starts with "sha256:" must be
//     written hashed. Auth protects every path except /healthz, which tells
//     only whether the loop is alive.
//
// Thread-safety: Record(), SetBuildInfo(), SetConfigReloadSuccess() and
// SetInterval() are called from the controller's thread (one writer); the
// HTTP threads and Serialize() read concurrently. All methods are safe to call
// concurrently with scrapes.
//
// Errors: Start() returns a Status for a bad listen address, a port in use,
// unreadable TLS or auth files. Nothing from prometheus-cpp or CivetWeb throws
// out of this class; a scrape that fails internally answers 500.
#ifndef MEMCOORD_PROMETHEUS_METRICS_H_
#define MEMCOORD_PROMETHEUS_METRICS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/controller.h"
#include "memcoord/hypervisor.h"
#include "memcoord/status.h"

namespace memcoord {

struct MetricsOptions {
  // "[host]:port". ":9741" listens on every IPv4 address, "127.0.0.1:0" on
  // an ephemeral loopback port (see ListeningPorts()). "[::1]:9741" needs a
  // CivetWeb built with IPv6 (Debian 12's is not: Start() fails).
  std::string listen = ":9741";
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
  std::optional<std::string> basic_auth_file;
  // The controller's interval; /healthz fails after three of them.
  double interval_s = 2;
  // HTTP worker threads (each serves one connection at a time).
  int http_threads = 4;
};

// The web section and interval of a config.
MetricsOptions MetricsOptionsFromConfig(const Config& config);

class PrometheusMetrics : public MetricsSink {
 public:
  // Starts the HTTP server. `clock` must outlive the object; /healthz and the
  // tick age use it.
  static Result<std::unique_ptr<PrometheusMetrics>> Start(
      const MetricsOptions& options, const Clock* clock);
  // Stops the server; waits for scrapes in flight.
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  void Record(const TickReport& report,
              const HypervisorHealth& health) override;

  // memcoord_build_info{version,policy} = 1. The policy label follows the
  // last tick's TickReport::policy once there is one.
  void SetBuildInfo(std::string version, std::string policy);
  // memcoord_config_reload_success: 1 until a reload fails.
  void SetConfigReloadSuccess(bool ok);
  // After a config reload changed the interval (for /healthz).
  void SetInterval(double interval_s);

  // Ports actually bound, in the order of the listen option.
  std::vector<int> ListeningPorts() const;
  // The text /metrics serves now.
  std::string Serialize() const;

  class Impl;

 private:
  explicit PrometheusMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace memcoord

#endif  // MEMCOORD_PROMETHEUS_METRICS_H_
