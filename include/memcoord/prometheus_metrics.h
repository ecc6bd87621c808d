// PrometheusMetrics: the MetricsSink that publishes every tick on HTTP for
// Prometheus (the README "Metrics" section lists the metric names; they are a
// contract).
//
// Endpoints (GET and HEAD; any other method is 405 with `Allow: GET, HEAD`):
//   /metrics   Prometheus text exposition format 0.0.4
//   /healthz   200 while the last tick is younger than three intervals (and
//              during the first three intervals after Start), else 503; the
//              body says why in one line
//   /          a small HTML page linking to both
//   other      404
//
// Tick consistency: Record() updates the counters and publishes the tick as
// one immutable snapshot of plain values (one row per guest), swapped in
// under a lock; a scrape running concurrently with Record() sees either the
// previous tick or the new one for every guest, never a mix.
//
// Cost: Record() is O(guests) and copies no label strings while the set of
// guests is unchanged (about 0.1 ms for 1,000 guests). The exposition text
// (about 11 ms of CPU for 1,000 guests, mostly prometheus-cpp's
// TextSerializer) is rendered once per tick and cached for every scrape of
// that tick. Until /metrics is first asked for, the first scrape of a tick
// renders it (so a daemon nobody scrapes renders nothing); from then on a
// background thread at the HTTP threads' low priority renders each tick's
// text right after Record(), and scrapes find it ready. A scrape that
// arrives while its tick is being rendered waits for that one rendering.
//
// Serving: CivetWeb, the HTTP server under prometheus-cpp's Exposer, is
// driven directly, and the text comes from prometheus-cpp's MetricFamily and
// TextSerializer. The Exposer itself is not used because it collects,
// serialises and (when the client accepts gzip, as Prometheus does)
// compresses on every scrape of every scraper; here one rendering per tick
// serves them all.
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
//     private key); both or neither. TLS 1.2 and 1.3, served by the daemon
//     with OpenSSL 3 (CivetWeb's own TLS cannot load OpenSSL 3) by the
//     front (see Limits). Plain HTTP on the TLS port is refused (failed
//     handshake). Start() fails with
//     kInvalidArgument naming the file and OpenSSL's reason for an
//     unreadable or invalid certificate or key, or a key that does not
//     match the certificate.
//   - Basic auth: `basic_auth_file`, one `user:secret` per line, where secret
//     is either `sha256:` followed by 64 hex digits (SHA-256 of the password)
//     or the plain password. Blank lines and lines starting with '#' are
//     ignored. A plain password that itself starts with "sha256:" must be
//     written hashed. Auth protects every path except /healthz, which tells
//     only whether the loop is alive.
//
// Limits (the `web:` keys header_timeout_s, keepalive_timeout_s,
// max_connections, max_connections_per_peer): the public socket, plain or
// TLS, belongs to a front (src/metrics/front.h) that reads each request in
// full before handing it to CivetWeb on a private 127.0.0.1 ephemeral port,
// where the HTTP rules (paths, methods, auth) apply; a CivetWeb worker is
// busy for one response, never for a slow client. The handshake and the
// whole first header must arrive within header_timeout_s of the accept;
// a kept-alive connection's next request must start within
// keepalive_timeout_s and its header arrive within header_timeout_s of its
// first byte; a response stalled for 30 s is cut. Over max_connections, or
// max_connections_per_peer from one address, the oldest idle connection is
// closed (or the new one, when none is idle). Local users can reach the
// private port with plain HTTP; basic auth, when configured, still guards
// it, and CivetWeb's own deadlines (request_timeout_ms = header_timeout_s,
// keep_alive_timeout_ms = keepalive_timeout_s) bound what they hold.
//
// Thread-safety: Record(), SetBuildInfo(), SetConfigReloadSuccess() and
// SetInterval() are called from the controller's thread (one writer); the
// HTTP threads and Serialize() read concurrently. All methods are safe to call
// concurrently with scrapes.
//
// Errors: Start() returns a Status for a bad listen address, a port in use,
// unreadable TLS or auth files. Nothing from prometheus-cpp, CivetWeb or
// OpenSSL throws out of this class; a scrape that fails internally (out of
// memory while rendering) answers 500.
//
// Shutdown: the destructor closes client connections at once, stops CivetWeb
// (waking its accept loop) and joins every thread; it does not wait for
// client timeouts.
#ifndef MEMCOORD_PROMETHEUS_METRICS_H_
#define MEMCOORD_PROMETHEUS_METRICS_H_

#include <cstdint>
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
  // "[host]:port" with an IP literal. ":9741" listens on every IPv4
  // address, "127.0.0.1:0" on an ephemeral loopback port (see
  // ListeningPorts()), "[::1]:9741" on the IPv6 loopback.
  std::string listen = ":9741";
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
  std::optional<std::string> basic_auth_file;
  // The controller's interval; /healthz fails after three of them.
  double interval_s = 2;
  // HTTP worker threads (each serves one request at a time).
  int http_threads = 4;
  // Slow and idle clients (see "Limits" above; Config::Web documents them).
  double header_timeout_s = 5;
  double keepalive_timeout_s = 2;
  int max_connections = 64;
  int max_connections_per_peer = 32;
};

// The web section and interval of a config.
MetricsOptions MetricsOptionsFromConfig(const Config& config);

class PrometheusMetrics : public MetricsSink {
 public:
  // Starts the HTTP server. `clock` must outlive the object; /healthz and the
  // tick age use it.
  static Result<std::unique_ptr<PrometheusMetrics>> Start(
      const MetricsOptions& options, const Clock* clock);
  // What Start() checks before it binds anything: the listen address, the
  // TLS certificate and key (loaded and matched), the basic auth file
  // (read and parsed). kInvalidArgument naming the key or file at fault:
  // these are configuration errors, which a restart cannot mend.
  static Status Check(const MetricsOptions& options);
  // Stops the server; waits for scrapes in flight.
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  void Record(const TickReport& report,
              const HypervisorHealth& health) override;

  // memcoord_build_info{version,revision} = 1, and
  // memcoord_policy_info{policy} = 1, whose label follows the last tick's
  // TickReport::policy once there is one (it changes on reload).
  void SetBuildInfo(std::string version, std::string revision,
                    std::string policy);
  // One reload done: memcoord_config_reload_success is `ok` until the next,
  // and memcoord_config_reloads_total{result="applied"|"refused"} counts it.
  void SetConfigReloadSuccess(bool ok);
  // After a config reload changed the interval (for /healthz).
  void SetInterval(double interval_s);

  // The port actually bound (the front's, not the private one behind it).
  std::vector<int> ListeningPorts() const;
  // The text /metrics serves now (rendering it if no scrape has yet); empty
  // when rendering failed.
  std::string Serialize() const;
  // How many times the exposition text has been rendered (by scrapes,
  // Serialize() or the background renderer); for tests and benchmarks.
  uint64_t RenderCount() const;

  class Impl;

 private:
  explicit PrometheusMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace memcoord

#endif  // MEMCOORD_PROMETHEUS_METRICS_H_
