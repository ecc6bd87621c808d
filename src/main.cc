// memory_coordinator: argument parsing and the wiring of real parts.
//
//   memory_coordinator [<interval>] [flags]        run the daemon
//   memory_coordinator simulate FILE... [flags]    score policies on scenarios
//
// Exit codes: 0 success, 1 a runtime failure at start (e.g. the listen port is
// taken), 2 bad arguments, configuration or scenario.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "memcoord/clock.h"
#include "memcoord/config.h"
#include "memcoord/config_loader.h"
#include "memcoord/controller.h"
#include "memcoord/json_report.h"
#include "memcoord/libvirt_hypervisor.h"
#include "memcoord/log.h"
#include "memcoord/loop.h"
#include "memcoord/policy.h"
#include "memcoord/prometheus_metrics.h"
#include "memcoord/scenario_loader.h"
#include "memcoord/sd_notifier.h"
#include "memcoord/service_notifier.h"
#include "memcoord/simulate.h"
#include "memcoord/simulator.h"
#include "memcoord/spdlog_logger.h"
#include "memcoord/version.h"

namespace memcoord {
namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
// "2", "0.5": seconds as an operator writes them.
std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", s);
  return buf;
}

constexpr char kDefaultConfigPath[] =
    "/etc/memory_coordinator/memory_coordinator.yaml";

// Command-line values that override the file; empty means "not given".
struct Overrides {
  std::optional<std::string> connect;
  std::optional<double> interval_s;
  std::optional<std::string> policy;
  bool dry_run = false;
  std::optional<std::string> listen;
  std::optional<std::string> log_level;
};

int Fail(int code, const std::string& message) {
  std::cerr << "memory_coordinator: " << message << "\n";
  return code;
}

// The file (explicit, or the installed default when it exists), then flags.
Result<Config> ResolveConfig(const std::optional<std::string>& path,
                             const Overrides& o) {
  Config config;
  std::string file;
  if (path) {
    file = *path;
  } else if (std::filesystem::exists(kDefaultConfigPath)) {
    file = kDefaultConfigPath;
  }
  if (!file.empty()) {
    Result<Config> loaded = LoadConfigFile(file);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded.value());
  }
  if (o.connect) config.connect = *o.connect;
  if (o.interval_s) config.interval_s = *o.interval_s;
  if (o.policy) config.policy = *o.policy;
  if (o.dry_run) config.dry_run = true;
  if (o.listen) config.web.listen = *o.listen;
  if (o.log_level) config.log.level = *o.log_level;
  if (Result<LogLevel> level = ParseLogLevel(config.log.level); !level.ok()) {
    return level.status();
  }
  Status valid = config.Validate();
  if (!valid.ok()) return valid;
  return config;
}

// SIGTERM/SIGINT stop the loop, SIGHUP reloads. The signals are blocked in
// every thread and taken here synchronously, so no handler runs in the
// middle of a tick.
class SignalThread {
 public:
  explicit SignalThread(Loop* loop) : loop_(loop) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SignalThread() {
    done_ = true;
    thread_.join();
  }
  static void BlockSignals() {
    sigset_t set = Set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

 private:
  static sigset_t Set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
  }
  void Run() {
    const sigset_t set = Set();
    const timespec poll = {0, 200 * 1000 * 1000};
    while (!done_) {
      int sig = sigtimedwait(&set, nullptr, &poll);
      if (sig == SIGHUP) {
        loop_->Reload();
      } else if (sig == SIGTERM || sig == SIGINT) {
        loop_->Stop();
      }
    }
  }
  Loop* loop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

Result<std::unique_ptr<Hypervisor>> Connect(const Config& config,
                                            const Clock* clock, Logger* log) {
  if (config.connect.rfind("sim:", 0) == 0) {
    Result<Scenario> scenario = LoadScenarioFile(config.connect.substr(4));
    if (!scenario.ok()) return scenario.status();
    log->Log(LogLevel::kInfo, "simulating scenario '" + scenario->name +
                                  "' in real time with " +
                                  std::to_string(scenario->guests.size()) +
                                  " guests");
    return std::unique_ptr<Hypervisor>(std::make_unique<SimHypervisor>(
        std::move(scenario.value()), clock, clock->NowSeconds()));
  }
  LibvirtOptions options;
  // Back off no longer than one interval, so that the connection is back
  // within two intervals of libvirtd's return.
  options.reconnect_max_s = std::min(options.reconnect_max_s, config.interval_s);
  // A hung guest delays a tick by at most two of these: one interval.
  options.stats_timeout_s = std::max(1.0, config.interval_s / 2);
  return std::unique_ptr<Hypervisor>(
      LibvirtHypervisor::Create(config.connect, clock, log, options));
}

int RunDaemon(const std::optional<std::string>& config_path,
              const Overrides& overrides, bool once, bool check_config) {
  Result<Config> config = ResolveConfig(config_path, overrides);
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  // The files web: names are configuration too: a missing certificate or
  // auth file is found here, by --check-config as well, and exits 2.
  if (!once) {
    Status web = PrometheusMetrics::Check(MetricsOptionsFromConfig(*config));
    if (!web.ok()) {
      return Fail(web.code() == Status::Code::kInvalidArgument ? kExitUsage
                                                               : kExitRuntime,
                  web.message());
    }
  }
  if (check_config) {
    std::cout << DumpConfig(*config);
    return 0;
  }
  // Read (and cleared from the environment) before any thread starts.
  std::unique_ptr<ServiceNotifier> notifier =
      once ? std::make_unique<NullNotifier>() : SdNotifier::FromEnvironment();
  SignalThread::BlockSignals();
  // glibc gives every HTTP thread its own malloc arena and keeps what it
  // frees; two arenas hold resident memory at a fraction for the same work.
  mallopt(M_ARENA_MAX, 2);
  SystemClock clock;
  SpdlogLogger logger(*ParseLogLevel(config->log.level),
                      SpdlogLogger::FormatForStderr());
  logger.Log(LogLevel::kInfo,
             std::string("memory_coordinator ") + kVersion + " starting: connect " +
                 config->connect + ", policy " + config->policy + ", interval " +
                 Seconds(config->interval_s) +
                 (config->dry_run ? ", dry-run (no balloon command is sent)" : ""));

  Result<std::unique_ptr<Hypervisor>> hypervisor =
      Connect(*config, &clock, &logger);
  if (!hypervisor.ok()) return Fail(kExitUsage, hypervisor.status().message());

  std::unique_ptr<PrometheusMetrics> metrics;
  if (!once) {
    auto started = PrometheusMetrics::Start(MetricsOptionsFromConfig(*config), &clock);
    if (!started.ok()) {
      // The message names the address or the file at fault.
      return Fail(kExitRuntime, started.status().message());
    }
    metrics = std::move(started.value());
    metrics->SetBuildInfo(kVersion, kRevision, config->policy);
    logger.Log(LogLevel::kInfo, "serving /metrics on " + config->web.listen);
  }

  Controller controller(hypervisor->get(), &clock, &logger, metrics.get());
  Status configured = controller.Configure(*config);
  if (!configured.ok()) return Fail(kExitUsage, configured.message());

  Loop loop;
  Loop::Callbacks callbacks;
  Status last_sample;
  // The watchdog the unit sets (WatchdogSec) must outlast a few intervals;
  // a longer interval stretches it for this run.
  const double unit_watchdog_s = notifier->watchdog_s();
  double watchdog_s = unit_watchdog_s;
  auto fit_watchdog = [&](double interval_s) {
    if (unit_watchdog_s <= 0) return;
    const double wanted = std::max(unit_watchdog_s, 3 * interval_s);
    if (wanted != watchdog_s) {
      watchdog_s = wanted;
      notifier->WatchdogTimeout(wanted);
    }
  };
  fit_watchdog(config->interval_s);
  bool ready = false;
  std::string last_status;
  callbacks.tick = [&] {
    TickReport report = controller.Tick();
    last_sample = report.sample_status;
    notifier->Watchdog();
    const Config& c = controller.config();
    std::string status =
        report.sample_status.ok()
            ? std::to_string(report.snapshot.guests.size()) + " guests, policy " +
                  c.policy + ", interval " + Seconds(c.interval_s) +
                  (c.dry_run ? ", dry-run" : "")
            : "cannot sample the hypervisor: " + report.sample_status.message();
    if (!ready) {
      ready = true;
      notifier->Ready(status);
    } else if (status != last_status) {
      notifier->SetStatus(status);
    }
    last_status = std::move(status);
  };
  callbacks.interval_s = [&] { return controller.config().interval_s; };
  callbacks.reload = [&] {
    notifier->Reloading();
    Result<Config> next = ResolveConfig(config_path, overrides);
    Status s = next.ok() ? controller.Configure(*next) : next.status();
    if (metrics) metrics->SetConfigReloadSuccess(s.ok());
    if (!s.ok()) {
      logger.Log(LogLevel::kError, "reload refused, the running configuration "
                                   "stays in force: " + s.message());
      // Until the next tick's status replaces it.
      last_status = "reload refused: " + s.message();
      notifier->Ready(last_status);
      return;
    }
    const Config::Web& w = next->web;
    const Config::Web& was = config->web;
    const bool web_changed =
        w.listen != was.listen || w.tls_cert_file != was.tls_cert_file ||
        w.tls_key_file != was.tls_key_file ||
        w.basic_auth_file != was.basic_auth_file ||
        w.header_timeout_s != was.header_timeout_s ||
        w.keepalive_timeout_s != was.keepalive_timeout_s ||
        w.max_connections != was.max_connections ||
        w.max_connections_per_peer != was.max_connections_per_peer;
    if (next->connect != config->connect || web_changed) {
      logger.Log(LogLevel::kWarn,
                 "connect and web settings take effect on restart only");
    }
    logger.SetLevel(*ParseLogLevel(next->log.level));
    if (metrics) metrics->SetInterval(next->interval_s);
    logger.Log(LogLevel::kInfo, "configuration reloaded: policy " + next->policy +
                                    ", interval " + Seconds(next->interval_s) +
                                    (next->dry_run ? ", dry-run" : ""));
    fit_watchdog(next->interval_s);
    last_status = "configuration reloaded: policy " + next->policy +
                  ", interval " + Seconds(next->interval_s);
    notifier->Ready(last_status);
  };
  {
    SignalThread signals(&loop);
    loop.Run(callbacks, once);
  }
  notifier->Stopping();
  // One tick that could not sample did nothing: --once failed.
  if (once && !last_sample.ok()) {
    return Fail(kExitRuntime,
                "the tick could not sample the hypervisor: " +
                    last_sample.message());
  }
  logger.Log(LogLevel::kInfo, "stopped");
  return 0;
}

int RunSimulate(const std::vector<std::string>& files, const std::string& policy,
                const std::optional<std::string>& csv_dir, bool json,
                const std::optional<std::string>& config_path,
                std::optional<double> interval_s) {
  Config base;
  if (config_path) {
    Result<Config> loaded = LoadConfigFile(*config_path);
    if (!loaded.ok()) return Fail(kExitUsage, loaded.status().message());
    base = std::move(loaded.value());
  }
  std::vector<std::string> policies;
  if (policy == "all") {
    policies = SimulatePolicyNames();
  } else if (Status known = CheckSimulatePolicy(policy); known.ok()) {
    policies = {policy};
  } else {
    return Fail(kExitUsage, known.message());
  }
  std::vector<Scenario> scenarios;
  for (const std::string& f : files) {
    Result<Scenario> s = LoadScenarioFile(f);
    if (!s.ok()) return Fail(kExitUsage, s.status().message());
    if (interval_s) s->interval_s = *interval_s;
    scenarios.push_back(std::move(s.value()));
  }
  if (csv_dir) {
    std::error_code ec;
    std::filesystem::create_directories(*csv_dir, ec);
    if (ec) return Fail(kExitUsage, "--csv " + *csv_dir + ": " + ec.message());
  }
  std::vector<RunResult> results;
  for (const Scenario& s : scenarios) {
    for (const std::string& p : policies) {
      RunOptions options;
      options.keep_timeline = csv_dir.has_value();
      Result<RunResult> r = RunScenario(s, p, base, options);
      if (!r.ok()) return Fail(kExitUsage, s.file + ": " + r.status().message());
      if (csv_dir) {
        const std::string path = *csv_dir + "/" + s.name + "-" + p + ".csv";
        std::ofstream out(path);
        out << FormatTimelineCsv(r->timeline);
        if (!out) return Fail(kExitRuntime, "cannot write " + path);
      }
      r->timeline.clear();
      results.push_back(std::move(r.value()));
    }
  }
  std::cout << (json ? ScoresToJson(results) : FormatScoreTable(results));
  return 0;
}

// CLI11's own range check prints the whole range of a double; this one says
// what is wrong in the operator's terms.
const CLI::Validator& PositiveSeconds() {
  static const CLI::Validator kValidator(
      [](std::string& value) -> std::string {
        try {
          size_t used = 0;
          double d = std::stod(value, &used);
          if (used == value.size() && d > 0 && std::isfinite(d)) return "";
        } catch (const std::exception&) {
          // Not a number: reported below like any other bad value.
        }
        return "must be a number of seconds > 0, got '" + value + "'";
      },
      "SECONDS");
  return kValidator;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "memory_coordinator: balances guest memory on a libvirt/KVM host with "
      "the virtio balloon and serves Prometheus metrics.",
      "memory_coordinator"};
  app.set_version_flag("--version", std::string("memory_coordinator ") + kVersion);
  app.set_help_all_flag(
      "--help-all", "Print this help with the simulate subcommand's options and exit");
  app.require_subcommand(0, 1);

  Overrides o;
  std::optional<std::string> config_path;
  std::optional<double> bare_interval;
  bool once = false;
  bool check_config = false;
  app.add_option("interval", bare_interval,
                 "Seconds between ticks (same as --interval)")
      ->check(PositiveSeconds());
  app.add_option("--config", config_path,
                 std::string("Configuration file (default ") + kDefaultConfigPath +
                     " when it exists)");
  app.add_option("--connect", o.connect,
                 "libvirt URI (default qemu:///system), or sim:FILE to run on a "
                 "simulated host in real time");
  app.add_option("--interval", o.interval_s, "Seconds between ticks (default 2)")
      ->check(PositiveSeconds());
  app.add_option("--policy", o.policy,
                 "seed | adaptive | mom | proxmox (oracle: simulate only)");
  app.add_flag("--dry-run", o.dry_run, "Decide and export, never move a balloon");
  app.add_option("--listen", o.listen, "Metrics address, [host]:port (default :9741)");
  app.add_option("--log-level", o.log_level, "debug | info | warn | error");
  app.add_flag("--once", once, "Run one tick and exit (no metrics endpoint)");
  app.add_flag("--check-config", check_config,
               "Validate the configuration, print it with defaults, and exit");

  CLI::App* sim = app.add_subcommand(
      "simulate", "Run scenarios against policies in simulated time and print scores");
  std::vector<std::string> files;
  std::string sim_policy = "all";
  std::optional<std::string> csv_dir;
  bool json = false;
  std::optional<std::string> sim_config;
  std::optional<double> sim_interval;
  sim->add_option("files", files, "Scenario files (YAML)")->required()
      ->check(CLI::ExistingFile);
  sim->add_option("--policy", sim_policy,
                  "seed | adaptive | mom | proxmox | oracle (clairvoyant, "
                  "simulate only), or all (default)");
  sim->add_option("--csv", csv_dir, "Write a timeline CSV per scenario and policy here");
  sim->add_flag("--json", json, "Print JSON instead of the table");
  sim->add_option("--config", sim_config, "Thresholds and guardrails from this file");
  sim->add_option("--interval", sim_interval,
                  "Seconds between ticks for every file (overrides its interval_s)")
      ->check(PositiveSeconds());

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, exit code 2, like other Unix tools.
    return Fail(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  if (sim->parsed()) {
    return RunSimulate(files, sim_policy, csv_dir, json, sim_config,
                       sim_interval);
  }
  if (bare_interval && o.interval_s && *bare_interval != *o.interval_s) {
    return Fail(kExitUsage, "the bare <interval> and --interval disagree");
  }
  if (bare_interval) o.interval_s = bare_interval;
  return RunDaemon(config_path, o, once, check_config);
}

}  // namespace
}  // namespace memcoord

int main(int argc, char** argv) { return memcoord::Main(argc, argv); }
