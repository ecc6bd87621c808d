#include "memcoord/prometheus_metrics.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "basic_auth.h"
#include "metrics_state.h"

namespace memcoord {
namespace {

using metrics_internal::BasicAuth;
using metrics_internal::MetricsState;

// One tick's exposition text, immutable once published. It is rendered on
// the writer's thread, before the swap, so that a scrape only copies bytes:
// with a tick per interval and a scrape per scrape_interval, rendering at
// scrape time would put the whole serialisation on every scrape's latency.
struct Exposition {
  std::string text;
  bool ok = false;  // false: rendering failed; /metrics answers 500
};

std::shared_ptr<const Exposition> Render(
    const std::vector<prometheus::MetricFamily>& families) {
  auto e = std::make_shared<Exposition>();
  try {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    e->text = out.str();
    e->ok = true;
  } catch (const std::exception&) {
    e->ok = false;
  }
  return e;
}

// ":9741" -> "9741", "127.0.0.1:0" -> "127.0.0.1:0", "[::1]:80" -> "[::1]:80";
// CivetWeb marks TLS ports with a trailing 's'.
Result<std::string> ListeningPortsOption(const std::string& listen, bool tls) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("web.listen \"" + listen +
                                   "\": expected [host]:port");
  }
  const std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Status::InvalidArgument("web.listen \"" + listen +
                                   "\": bad port \"" + port + "\"");
  }
  if (host.find(':') != std::string::npos &&
      !(host.front() == '[' && host.back() == ']')) {
    return Status::InvalidArgument("web.listen \"" + listen +
                                   "\": write IPv6 addresses as [addr]:port");
  }
  std::string option = host.empty() ? port : host + ":" + port;
  if (tls) option += "s";
  return option;
}

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", s);
  return buf;
}

constexpr char kTlsUnavailable[] =
    "TLS requested but CivetWeb could not load OpenSSL (libssl.so with the "
    "OpenSSL 1.1 function names)";

constexpr char kIndexPage[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>memory_coordinator</title>"
    "</head>\n<body><h1>memory_coordinator</h1>\n<ul>\n"
    "<li><a href=\"/metrics\">/metrics</a> - Prometheus metrics</li>\n"
    "<li><a href=\"/healthz\">/healthz</a> - liveness of the control "
    "loop</li>\n"
    "</ul></body></html>\n";

}  // namespace

class PrometheusMetrics::Impl {
 public:
  Impl(const MetricsOptions& options, const Clock* clock)
      : options_(options), clock_(clock) {
    start_s_ = clock_->NowSeconds();
    last_tick_s_.store(std::numeric_limits<double>::quiet_NaN());
    interval_s_.store(options.interval_s);
    Publish();
  }

  ~Impl() {
    if (ctx_ != nullptr) Stop();
    if (library_initialised_) {
      std::lock_guard<std::mutex> lock(LibraryMutex());
      mg_exit_library();
    }
  }

  Status StartServer();

  void Record(const TickReport& report, const HypervisorHealth& health) {
    std::lock_guard<std::mutex> lock(write_mu_);
    try {
      state_.Record(report, health);
      PublishLocked();
    } catch (const std::exception&) {
      // Out of memory while building the families: the loop must go on, and
      // scrapes keep the previous snapshot.
    }
    last_tick_s_.store(clock_->NowSeconds());
  }

  void SetBuildInfo(std::string version, std::string policy) {
    std::lock_guard<std::mutex> lock(write_mu_);
    state_.SetBuildInfo(std::move(version), std::move(policy));
    PublishLocked();
  }

  void SetConfigReloadSuccess(bool ok) {
    std::lock_guard<std::mutex> lock(write_mu_);
    state_.SetConfigReloadSuccess(ok);
    PublishLocked();
  }

  void SetInterval(double interval_s) { interval_s_.store(interval_s); }

  std::vector<int> ListeningPorts() const {
    std::vector<int> ports;
    if (ctx_ == nullptr) return ports;
    mg_server_port buf[8];
    const int n = mg_get_server_ports(ctx_, 8, buf);
    for (int i = 0; i < n; ++i) ports.push_back(buf[i].port);
    return ports;
  }

  std::string Serialize() const {
    std::shared_ptr<const Exposition> e = Current();
    return e->ok ? e->text : std::string();
  }

 private:
  void Stop();
  static std::mutex& LibraryMutex() {
    static std::mutex mu;
    return mu;
  }
  static int OnBeginRequest(mg_connection* conn);
  static int OnInitSsl(void* ssl_ctx, void* user_data);
  int HandleRequest(mg_connection* conn);
  // 200 with the reason, or 503 with the reason.
  std::pair<int, std::string> Health() const;

  void Publish() {
    std::lock_guard<std::mutex> lock(write_mu_);
    PublishLocked();
  }
  // Called with write_mu_ held; families and text are built before the swap
  // so that readers wait only for a pointer copy.
  void PublishLocked() {
    std::shared_ptr<const Exposition> next = Render(state_.Families());
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(next);
  }
  std::shared_ptr<const Exposition> Current() const {
    std::lock_guard<std::mutex> lock(current_mu_);
    return current_;
  }

  const MetricsOptions options_;
  const Clock* const clock_;
  std::optional<BasicAuth> auth_;
  mg_context* ctx_ = nullptr;
  bool library_initialised_ = false;
  std::string wake_host_;  // an address of ours that reaches the listener
  std::string tls_error_;  // written by OnInitSsl during mg_start2

  std::mutex write_mu_;
  MetricsState state_;  // guarded by write_mu_

  mutable std::mutex current_mu_;
  std::shared_ptr<const Exposition> current_;  // guarded by current_mu_

  double start_s_ = 0;
  std::atomic<double> last_tick_s_;  // NaN until the first Record
  std::atomic<double> interval_s_;
};

Status PrometheusMetrics::Impl::StartServer() {
  const bool tls = options_.tls_cert_file.has_value();
  if (options_.tls_cert_file.has_value() != options_.tls_key_file.has_value()) {
    return Status::InvalidArgument(
        "web.tls_cert_file and web.tls_key_file must be given together");
  }
  if (options_.basic_auth_file) {
    Result<BasicAuth> auth = BasicAuth::Load(*options_.basic_auth_file);
    if (!auth.ok()) return auth.status();
    auth_ = std::move(auth).value();
  }
  Result<std::string> ports = ListeningPortsOption(options_.listen, tls);
  if (!ports.ok()) return ports.status();
  wake_host_ = options_.listen.substr(0, options_.listen.rfind(':'));
  if (wake_host_.empty() || wake_host_ == "0.0.0.0") wake_host_ = "127.0.0.1";
  if (options_.http_threads < 1) {
    return Status::InvalidArgument("http_threads must be at least 1");
  }

  // mg_init_library keeps a reference count; it is not thread-safe, so every
  // Start goes through one lock. TLS is initialised only when asked for, so
  // a host without a usable OpenSSL still serves plain HTTP.
  {
    std::lock_guard<std::mutex> lock(LibraryMutex());
    // The first TLS initialisation decides for the whole process: after a
    // failed load CivetWeb reports TLS as available on the next call, with
    // missing OpenSSL functions, and crashes on the first TLS connection.
    static std::optional<bool> tls_usable;
    if (tls && tls_usable.has_value() && !*tls_usable) {
      return Status::Unavailable(kTlsUnavailable);
    }
    unsigned features = MG_FEATURES_DEFAULT;
    if (tls) features |= MG_FEATURES_TLS;
    const unsigned got = mg_init_library(features);
    library_initialised_ = true;
    if (tls && !tls_usable.has_value()) {
      tls_usable = (got & MG_FEATURES_TLS) != 0;
    }
    if (tls && !*tls_usable) return Status::Unavailable(kTlsUnavailable);
  }

  const std::string threads = std::to_string(options_.http_threads);
  std::vector<const char*> opts = {"listening_ports",
                                   ports->c_str(),
                                   "num_threads",
                                   threads.c_str(),
                                   "request_timeout_ms",
                                   "10000",
                                   "enable_keep_alive",
                                   "yes",
                                   "enable_directory_listing",
                                   "no"};
  opts.push_back(nullptr);

  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.begin_request = &Impl::OnBeginRequest;
  if (tls) callbacks.init_ssl = &Impl::OnInitSsl;
  // CivetWeb writes its own diagnostics to stderr unless told otherwise; the
  // error text comes back through mg_error_data instead.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };

  mg_init_data init;
  std::memset(&init, 0, sizeof(init));
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = opts.data();
  char error_text[256] = {0};
  unsigned error_code = 0;
  mg_error_data error;
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  ctx_ = mg_start2(&init, &error);
  if (ctx_ == nullptr) {
    std::string why = tls_error_.empty() ? error_text : tls_error_;
    return Status::Unavailable("cannot serve metrics on " + options_.listen +
                               ": " + why);
  }
  return Status::Ok();
}

void PrometheusMetrics::Impl::Stop() {
  // CivetWeb's accept loop looks at its stop flag only between polls of up to
  // two seconds; a connection wakes it at once. mg_stop() blocks, so another
  // thread knocks until it returns.
  std::atomic<bool> stopped{false};
  std::vector<int> ports = ListeningPorts();
  std::thread knocker([&] {
    in_addr addr{};
    if (inet_pton(AF_INET, wake_host_.c_str(), &addr) != 1) return;
    while (!stopped.load()) {
      for (int port : ports) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return;
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        sa.sin_addr = addr;
        connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
        close(fd);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  mg_stop(ctx_);
  ctx_ = nullptr;
  stopped.store(true);
  knocker.join();
}

int PrometheusMetrics::Impl::OnInitSsl(void* ssl_ctx, void* user_data) {
  auto* self = static_cast<Impl*>(user_data);
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  auto fail = [self](const std::string& what) {
    char buf[256] = {0};
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    self->tls_error_ = what + " (" + buf + ")";
    return -1;
  };
  if (SSL_CTX_use_certificate_chain_file(
          ctx, self->options_.tls_cert_file->c_str()) != 1) {
    return fail("cannot load certificate " + *self->options_.tls_cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, self->options_.tls_key_file->c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load private key " + *self->options_.tls_key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("private key " + *self->options_.tls_key_file +
                " does not match certificate " + *self->options_.tls_cert_file);
  }
  return 1;  // set up here; CivetWeb must not look for ssl_certificate
}

int PrometheusMetrics::Impl::OnBeginRequest(mg_connection* conn) {
  auto* self = static_cast<Impl*>(mg_get_user_data(mg_get_context(conn)));
  try {
    return self->HandleRequest(conn);
  } catch (const std::exception&) {
    // Allocation failure while building a response; nothing was sent yet
    // in every path that can throw.
    mg_send_http_error(conn, 500, "internal error\n");
    return 500;
  }
}

std::pair<int, std::string> PrometheusMetrics::Impl::Health() const {
  const double now = clock_->NowSeconds();
  const double interval = interval_s_.load();
  const double limit = 3 * interval;
  const double last = last_tick_s_.load();
  if (std::isnan(last)) {
    const double up = now - start_s_;
    if (up < limit) {
      return {200, "ok: starting, no tick yet (" + FormatSeconds(up) +
                       " s since start)\n"};
    }
    return {503, "unhealthy: no tick in " + FormatSeconds(up) +
                     " s since start (limit 3 x " + FormatSeconds(interval) +
                     " s interval)\n"};
  }
  const double age = now - last;
  if (age < limit) {
    return {200, "ok: last tick " + FormatSeconds(age) + " s ago\n"};
  }
  return {503, "unhealthy: last tick " + FormatSeconds(age) +
                   " s ago, more than 3 x " + FormatSeconds(interval) +
                   " s interval\n"};
}

namespace {

void Respond(mg_connection* conn, int status, const char* content_type,
             const std::string& body, bool head,
             std::initializer_list<std::pair<const char*, std::string>>
                 extra_headers = {}) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type, -1);
  const std::string length = std::to_string(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [name, value] : extra_headers) {
    mg_response_header_add(conn, name, value.c_str(), -1);
  }
  mg_response_header_send(conn);
  if (!head && !body.empty()) mg_write(conn, body.data(), body.size());
}

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

}  // namespace

int PrometheusMetrics::Impl::HandleRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string path = info->local_uri ? info->local_uri : "";
  const std::string method = info->request_method ? info->request_method : "";
  const bool head = method == "HEAD";

  if (auth_ && path != "/healthz" &&
      !auth_->Check(mg_get_header(conn, "Authorization"))) {
    Respond(conn, 401, kTextPlain, "authentication required\n", head,
            {{"WWW-Authenticate",
              "Basic realm=\"memory_coordinator\", charset=\"UTF-8\""}});
    return 401;
  }
  if (method != "GET" && !head) {
    Respond(conn, 405, kTextPlain, "method not allowed\n", false,
            {{"Allow", "GET, HEAD"}});
    return 405;
  }
  if (path == "/metrics") {
    // Hold the snapshot for the whole response: Record() may publish a new
    // one meanwhile without disturbing this scrape.
    std::shared_ptr<const Exposition> snapshot = Current();
    const std::string* text = snapshot->ok ? &snapshot->text : nullptr;
    if (text == nullptr) {
      Respond(conn, 500, kTextPlain, "cannot render metrics\n", head);
      return 500;
    }
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type",
                           "text/plain; version=0.0.4; charset=utf-8", -1);
    const std::string length = std::to_string(text->size());
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_send(conn);
    if (!head) mg_write(conn, text->data(), text->size());
    return 200;
  }
  if (path == "/healthz") {
    auto [status, body] = Health();
    Respond(conn, status, kTextPlain, body, head);
    return status;
  }
  if (path == "/") {
    Respond(conn, 200, "text/html; charset=utf-8", kIndexPage, head);
    return 200;
  }
  Respond(conn, 404, kTextPlain, "not found: " + path + "\n", head);
  return 404;
}

MetricsOptions MetricsOptionsFromConfig(const Config& config) {
  MetricsOptions o;
  o.listen = config.web.listen;
  o.tls_cert_file = config.web.tls_cert_file;
  o.tls_key_file = config.web.tls_key_file;
  o.basic_auth_file = config.web.basic_auth_file;
  o.interval_s = config.interval_s;
  return o;
}

Result<std::unique_ptr<PrometheusMetrics>> PrometheusMetrics::Start(
    const MetricsOptions& options, const Clock* clock) {
  if (clock == nullptr) return Status::InvalidArgument("metrics: no clock");
  if (!(options.interval_s > 0)) {
    return Status::InvalidArgument("metrics: interval must be positive");
  }
  auto impl = std::make_unique<Impl>(options, clock);
  Status started = impl->StartServer();
  if (!started.ok()) return started;
  return std::unique_ptr<PrometheusMetrics>(
      new PrometheusMetrics(std::move(impl)));
}

PrometheusMetrics::PrometheusMetrics(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::Record(const TickReport& report,
                               const HypervisorHealth& health) {
  impl_->Record(report, health);
}

void PrometheusMetrics::SetBuildInfo(std::string version, std::string policy) {
  impl_->SetBuildInfo(std::move(version), std::move(policy));
}

void PrometheusMetrics::SetConfigReloadSuccess(bool ok) {
  impl_->SetConfigReloadSuccess(ok);
}

void PrometheusMetrics::SetInterval(double interval_s) {
  impl_->SetInterval(interval_s);
}

std::vector<int> PrometheusMetrics::ListeningPorts() const {
  return impl_->ListeningPorts();
}

std::string PrometheusMetrics::Serialize() const { return impl_->Serialize(); }

}  // namespace memcoord
