#include "memcoord/prometheus_metrics.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "basic_auth.h"
#include "metrics_state.h"
#include "thread_priority.h"
#include "front.h"
#include "gzip.h"

namespace memcoord {
namespace {

using metrics_internal::BasicAuth;
using metrics_internal::MetricsState;
using metrics_internal::TickView;
using metrics_internal::Front;

// The memory of the last text nobody reads any more, for the next rendering:
// a megabyte per 1,000 guests that would otherwise be freed (on whichever
// thread drops the text last, often the tick thread) and faulted in again.
class TextPool {
 public:
  std::string Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(spare_);
  }
  void Give(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (text.capacity() > spare_.capacity()) spare_.swap(text);
  }

 private:
  std::mutex mu_;
  std::string spare_;  // guarded by mu_
};

// One tick as published to scrapes: the plain values, and the exposition
// text rendered from them once, by the background renderer or by the first
// scrape that wants it, whichever comes first. Publishing only the values
// keeps the tick thread's cost to copying one row per guest.
class Exposition {
 public:
  Exposition(std::shared_ptr<TickView> view, std::shared_ptr<TextPool> pool,
             std::atomic<uint64_t>* renders)
      : view_(std::move(view)), pool_(std::move(pool)), renders_(renders) {}

  // The text, rendered once; concurrent callers wait for the one rendering.
  // Null when rendering failed (out of memory); a later call tries again.
  std::shared_ptr<const std::string> Text() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (text_ == nullptr) {
      try {
        auto text = std::make_unique<std::string>(
            metrics_internal::RenderText(*view_, pool_->Take()));
        renders_->fetch_add(1, std::memory_order_relaxed);
        // The last reference, whichever thread drops it, hands the memory
        // back instead of freeing it; the pool outlives every text.
        std::shared_ptr<TextPool> pool = pool_;
        text_ = std::shared_ptr<const std::string>(
            text.release(), [pool](const std::string* t) {
              std::unique_ptr<std::string> owned(const_cast<std::string*>(t));
              pool->Give(std::move(*owned));
            });
      } catch (const std::exception&) {
        return nullptr;
      }
    }
    return text_;
  }

  // The text gzip-compressed, made once from Text() on the first scrape that
  // asks for it; null when rendering or compressing failed.
  std::shared_ptr<const std::string> Gzipped() const {
    std::shared_ptr<const std::string> text = Text();
    if (text == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(gzip_mu_);
    if (gzipped_ == nullptr) {
      std::optional<std::string> z = metrics_internal::Gzip(*text);
      if (!z) return nullptr;
      gzipped_ = std::make_shared<const std::string>(std::move(*z));
    }
    return gzipped_;
  }

  // The view for reuse by the next tick. Only for an Exposition that no
  // reader can reach any more (unpublished, one owner), and only when no
  // reader still holds its view.
  std::shared_ptr<TickView> TakeView() {
    // Renderers read the view under mu_: taking it orders their reads
    // before the next tick's writes.
    std::lock_guard<std::mutex> lock(mu_);
    if (view_.use_count() != 1) return nullptr;
    return std::move(view_);
  }

 private:
  // Never modified while the Exposition is published.
  std::shared_ptr<TickView> view_;
  const std::shared_ptr<TextPool> pool_;
  std::atomic<uint64_t>* const renders_;  // the Impl's count; outlives this
  mutable std::mutex mu_;
  mutable std::shared_ptr<const std::string> text_;  // guarded by mu_
  mutable std::mutex gzip_mu_;  // not mu_: Text() takes that one
  mutable std::shared_ptr<const std::string> gzipped_;  // guarded by gzip_mu_
};

// Splits "[host]:port" after ListeningPortsOption() accepted it.
std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", s);
  return buf;
}

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
    StopRenderer();
    // The front first: its connections are clients of CivetWeb.
    front_.reset();
    if (ctx_ != nullptr) Stop();
    if (library_initialised_) {
      std::lock_guard<std::mutex> lock(LibraryMutex());
      mg_exit_library();
    }
  }

  Status StartServer();

  void Record(const TickReport& report, const HypervisorHealth& health) {
    // procfs is read outside the lock; it takes a few syscalls.
    std::optional<metrics_internal::ProcessStats> process =
        metrics_internal::ReadProcessStats();
    std::lock_guard<std::mutex> lock(write_mu_);
    try {
      state_.Record(report, health);
      state_.SetProcess(process);
      PublishLocked();
    } catch (const std::exception&) {
      // Out of memory while copying the tick: the loop must go on, and
      // scrapes keep the previous snapshot.
    }
    // Only a tick that sampled the hypervisor counts for health: one that
    // could not decided nothing.
    if (report.sample_status.ok()) {
      last_tick_s_.store(clock_->NowSeconds());
      sample_failing_.store(false);
    } else {
      std::lock_guard<std::mutex> lock(sample_error_mu_);
      sample_error_ = report.sample_status.message();
      sample_failing_.store(true);
    }
  }

  void SetBuildInfo(std::string version, std::string revision,
                    std::string policy) {
    std::lock_guard<std::mutex> lock(write_mu_);
    state_.SetBuildInfo(std::move(version), std::move(revision),
                        std::move(policy));
    try {
      PublishLocked();
    } catch (const std::exception&) {
      // Shown with the next tick instead.
    }
  }

  void SetConfigReloadSuccess(bool ok) {
    std::lock_guard<std::mutex> lock(write_mu_);
    state_.SetConfigReloadSuccess(ok);
    try {
      PublishLocked();
    } catch (const std::exception&) {
      // Shown with the next tick instead.
    }
  }

  void SetInterval(double interval_s) { interval_s_.store(interval_s); }

  std::vector<int> ListeningPorts() const {
    if (front_ != nullptr) return {front_->port()};
    return {};
  }

  uint64_t RenderCount() const {
    return renders_.load(std::memory_order_relaxed);
  }

  std::string Serialize() const {
    std::shared_ptr<const std::string> text = Current()->Text();
    return text != nullptr ? *text : std::string();
  }

 private:
  // The private port CivetWeb bound behind the front.
  std::vector<int> HttpPorts() const {
    std::vector<int> ports;
    if (ctx_ == nullptr) return ports;
    mg_server_port buf[8];
    const int n = mg_get_server_ports(ctx_, 8, buf);
    for (int i = 0; i < n; ++i) ports.push_back(buf[i].port);
    return ports;
  }

  void Stop();
  static std::mutex& LibraryMutex() {
    static std::mutex mu;
    return mu;
  }
  static int OnBeginRequest(mg_connection* conn);
  int HandleRequest(mg_connection* conn);
  // 200 with the reason, or 503 with the reason.
  std::pair<int, std::string> Health() const;

  void Publish() {
    std::lock_guard<std::mutex> lock(write_mu_);
    PublishLocked();
  }

  // The renderer: once /metrics has been asked for, each published tick's
  // text is rendered right after the tick, on a low-priority thread, so that
  // a scrape arriving later finds it ready instead of rendering it (11 ms
  // for 1,000 guests). Until the first scrape nothing is rendered: a daemon
  // nobody scrapes spends no CPU on text.
  void StartRenderer() {
    renderer_ = std::thread([this] { RenderLoop(); });
  }
  void StopRenderer() {
    if (!renderer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(render_mu_);
      render_stop_ = true;
    }
    render_cv_.notify_one();
    renderer_.join();
  }
  void RenderLoop() {
    metrics_internal::DeprioritizeThisThread();
    std::unique_lock<std::mutex> lock(render_mu_);
    while (true) {
      render_cv_.wait(lock, [this] { return render_pending_ || render_stop_; });
      if (render_stop_) return;
      render_pending_ = false;
      lock.unlock();
      // Rendered under the Exposition's own lock: a scrape that comes
      // meanwhile waits for this rendering instead of starting another.
      // Failure (out of memory) is left to the scrape to retry.
      Current()->Text();
      lock.lock();
    }
  }
  void RequestRender() {
    if (!scraped_.load(std::memory_order_relaxed) || !renderer_.joinable()) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock(render_mu_);
      render_pending_ = true;
    }
    render_cv_.notify_one();
  }
  // The current tick's text, gzip-compressed when `gzip`.
  std::shared_ptr<const std::string> ScrapeText(bool gzip = false) {
    if (!scraped_.load(std::memory_order_relaxed)) {
      scraped_.store(true, std::memory_order_relaxed);
    }
    return gzip ? Current()->Gzipped() : Current()->Text();
  }

  // Called with write_mu_ held; the view is copied before the swap so that
  // readers wait only for a pointer copy.
  void PublishLocked() {
    std::shared_ptr<TickView> view = std::move(spare_view_);
    if (view == nullptr) view = std::make_shared<TickView>();
    state_.FillView(view.get());
    auto next =
        std::make_shared<Exposition>(std::move(view), text_pool_, &renders_);
    {
      std::lock_guard<std::mutex> lock(current_mu_);
      current_.swap(next);
    }
    // `next` is now the previous tick, out of readers' reach. When no scrape
    // holds it, its memory serves the next tick: with 10,000 guests a fresh
    // view is megabytes of newly faulted pages every tick.
    if (next != nullptr && next.use_count() == 1) {
      spare_view_ = next->TakeView();
    }
    // After the previous tick's text went back to the pool (when no scrape
    // holds it), so that the rendering reuses its memory.
    next.reset();
    RequestRender();
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
  std::unique_ptr<Front> front_;

  std::mutex write_mu_;
  MetricsState state_;                    // guarded by write_mu_
  std::shared_ptr<TickView> spare_view_;  // guarded by write_mu_
  const std::shared_ptr<TextPool> text_pool_ = std::make_shared<TextPool>();

  mutable std::mutex current_mu_;
  std::shared_ptr<Exposition> current_;  // guarded by current_mu_

  double start_s_ = 0;
  std::atomic<double> last_tick_s_;  // NaN until the first sampled tick
  std::atomic<bool> sample_failing_{false};  // the last tick's sample failed
  mutable std::mutex sample_error_mu_;
  std::string sample_error_;  // its error; guarded by sample_error_mu_
  std::atomic<double> interval_s_;

  std::thread renderer_;
  std::mutex render_mu_;
  std::condition_variable render_cv_;
  bool render_pending_ = false;  // guarded by render_mu_
  bool render_stop_ = false;     // guarded by render_mu_
  std::atomic<bool> scraped_{false};  // /metrics has been asked for
  std::atomic<uint64_t> renders_{0};
};

namespace {

// What Check() and Start() establish before anything is bound: the listen
// address parsed and the basic auth file loaded (the TLS pair is checked
// here for both; the front loads it when it listens).
struct Prepared {
  ListenAddress listen;
  std::optional<BasicAuth> auth;
};

Result<Prepared> Prepare(const MetricsOptions& options) {
  Result<ListenAddress> listen = ParseListen(options.listen);
  if (!listen.ok()) return listen.status();
  if (options.tls_cert_file.has_value() != options.tls_key_file.has_value()) {
    return Status::InvalidArgument(
        "web.tls_cert_file and web.tls_key_file must be given together");
  }
  if (options.http_threads < 1) {
    return Status::InvalidArgument("http_threads must be at least 1");
  }
  Prepared p{std::move(listen).value(), std::nullopt};
  if (options.basic_auth_file) {
    Result<BasicAuth> auth = BasicAuth::Load(*options.basic_auth_file);
    if (!auth.ok()) return auth.status();
    p.auth = std::move(auth).value();
  }
  return p;
}

}  // namespace

Status PrometheusMetrics::Check(const MetricsOptions& options) {
  Result<Prepared> prepared = Prepare(options);
  if (!prepared.ok()) return prepared.status();
  if (options.tls_cert_file) {
    return Front::CheckTls(*options.tls_cert_file, *options.tls_key_file);
  }
  return Status::Ok();
}

Status PrometheusMetrics::Impl::StartServer() {
  Result<Prepared> prepared = Prepare(options_);
  if (!prepared.ok()) return prepared.status();
  auth_ = std::move(prepared->auth);
  const ListenAddress& listen = prepared->listen;

  // The public socket is the front's, bound before CivetWeb starts so that
  // a bad certificate or a port in use fails Start() with nothing left
  // running; CivetWeb serves plain HTTP on a private loopback port and sees
  // only the requests the front has read in full.
  {
    metrics_internal::FrontOptions front;
    front.cert_file = options_.tls_cert_file;
    front.key_file = options_.tls_key_file;
    front.host = listen.host;
    front.port = listen.port;
    front.max_connections = options_.max_connections;
    front.max_connections_per_peer = options_.max_connections_per_peer;
    front.header_timeout_s = options_.header_timeout_s;
    front.keepalive_timeout_s = options_.keepalive_timeout_s;
    Result<std::unique_ptr<Front>> listening = Front::Listen(front);
    if (!listening.ok()) {
      const Status& failed = listening.status();
      const std::string what =
          "cannot serve metrics on " + options_.listen + ": " + failed.message();
      return failed.code() == Status::Code::kUnavailable
                 ? Status::Unavailable(what)
                 : Status::InvalidArgument(what);
    }
    front_ = std::move(listening).value();
  }
  const std::string http_ports = "127.0.0.1:0";
  wake_host_ = "127.0.0.1";

  // mg_init_library keeps a reference count; it is not thread-safe, so every
  // Start goes through one lock. CivetWeb's own TLS is never initialised:
  // it cannot load OpenSSL 3 (see front.h).
  {
    std::lock_guard<std::mutex> lock(LibraryMutex());
    mg_init_library(MG_FEATURES_DEFAULT);
    library_initialised_ = true;
  }

  const std::string threads = std::to_string(options_.http_threads);
  // Only the front and local users reach CivetWeb; its own deadlines bound
  // what a local client can hold. request_timeout_ms is a deadline for the
  // whole header (CivetWeb measures it from the request's start, checking
  // after each read), and for each read of a body.
  const std::string request_timeout_ms = std::to_string(
      static_cast<long long>(std::ceil(options_.header_timeout_s * 1000)));
  const std::string keep_alive_timeout_ms = std::to_string(
      static_cast<long long>(std::ceil(options_.keepalive_timeout_s * 1000)));
  std::vector<const char*> opts = {"listening_ports",
                                   http_ports.c_str(),
                                   "num_threads",
                                   threads.c_str(),
                                   "request_timeout_ms",
                                   request_timeout_ms.c_str(),
                                   "keep_alive_timeout_ms",
                                   keep_alive_timeout_ms.c_str(),
                                   "enable_keep_alive",
                                   "yes",
                                   "enable_directory_listing",
                                   "no",
                                   // Headers and body leave as two writes;
                                   // with Nagle on, the body waits for the
                                   // client's delayed ACK (~40 ms) on
                                   // kept-alive connections.
                                   "tcp_nodelay",
                                   "1"};
  opts.push_back(nullptr);

  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.begin_request = &Impl::OnBeginRequest;
  // CivetWeb writes its own diagnostics to stderr unless told otherwise; the
  // error text comes back through mg_error_data instead.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  callbacks.init_thread = [](const mg_context*, int) -> void* {
    metrics_internal::DeprioritizeThisThread();
    return nullptr;
  };

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
    return Status::Unavailable("cannot serve metrics on " + options_.listen +
                               ": cannot start the HTTP server: " + error_text);
  }
  const std::vector<int> backend = HttpPorts();
  if (backend.size() != 1) {
    return Status::Internal("metrics: no private HTTP port behind the front");
  }
  Status run = front_->Run(backend[0]);
  if (!run.ok()) return run;
  StartRenderer();
  return Status::Ok();
}

void PrometheusMetrics::Impl::Stop() {
  // CivetWeb's accept loop looks at its stop flag only between polls of up to
  // two seconds; a connection wakes it at once. mg_stop() blocks, so another
  // thread knocks until it returns.
  std::atomic<bool> stopped{false};
  std::vector<int> ports = HttpPorts();
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
  // Why the ticks since the last good one did not count.
  std::string failing;
  if (sample_failing_.load()) {
    std::lock_guard<std::mutex> lock(sample_error_mu_);
    failing = "; sampling the hypervisor fails: " + sample_error_;
  }
  if (std::isnan(last)) {
    const double up = now - start_s_;
    if (up < limit) {
      return {200, "ok: starting, no tick yet (" + FormatSeconds(up) +
                       " s since start)" + failing + "\n"};
    }
    return {503, "unhealthy: no tick in " + FormatSeconds(up) +
                     " s since start (limit 3 x " + FormatSeconds(interval) +
                     " s interval)" + failing + "\n"};
  }
  const double age = now - last;
  if (age < limit) {
    return {200,
            "ok: last tick " + FormatSeconds(age) + " s ago" + failing + "\n"};
  }
  return {503, "unhealthy: last tick " + FormatSeconds(age) +
                   " s ago, more than 3 x " + FormatSeconds(interval) +
                   " s interval" + failing + "\n"};
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
    const bool gzip =
        metrics_internal::AcceptsGzip(mg_get_header(conn, "Accept-Encoding"));
    std::shared_ptr<const std::string> text = ScrapeText(gzip);
    if (text == nullptr) {
      Respond(conn, 500, kTextPlain, "cannot render metrics\n", head);
      return 500;
    }
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type",
                           "text/plain; version=0.0.4; charset=utf-8", -1);
    if (gzip) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
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
  o.header_timeout_s = config.web.header_timeout_s;
  o.keepalive_timeout_s = config.web.keepalive_timeout_s;
  o.max_connections = config.web.max_connections;
  o.max_connections_per_peer = config.web.max_connections_per_peer;
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

void PrometheusMetrics::SetBuildInfo(std::string version, std::string revision,
                                     std::string policy) {
  impl_->SetBuildInfo(std::move(version), std::move(revision),
                      std::move(policy));
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

uint64_t PrometheusMetrics::RenderCount() const {
  return impl_->RenderCount();
}

}  // namespace memcoord
