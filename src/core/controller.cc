#include "memcoord/controller.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace memcoord {
namespace {

std::string Mib(int64_t kib) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f MiB", KibToMib(kib));
  return buf;
}

bool SameParams(const PolicyParams& a, const PolicyParams& b) {
  return a.starvation_kib == b.starvation_kib && a.waste_kib == b.waste_kib &&
         a.guest_min_unused_kib == b.guest_min_unused_kib &&
         a.host_min_free_kib == b.host_min_free_kib &&
         a.max_release_fraction == b.max_release_fraction &&
         a.interval_s == b.interval_s;
}

}  // namespace

PolicyParams PolicyParamsOf(const Config& c) {
  PolicyParams p;
  p.starvation_kib = MibToKib(static_cast<double>(c.thresholds.starvation_mib));
  p.waste_kib = MibToKib(static_cast<double>(c.thresholds.waste_mib));
  p.guest_min_unused_kib =
      MibToKib(static_cast<double>(c.guardrails.guest_min_unused_mib));
  p.host_min_free_kib =
      MibToKib(static_cast<double>(c.guardrails.host_min_free_mib));
  p.max_release_fraction = c.guardrails.max_release_fraction;
  p.interval_s = c.interval_s;
  return p;
}

Controller::Controller(Hypervisor* hypervisor, const Clock* clock,
                       Logger* logger, MetricsSink* metrics)
    : hypervisor_(hypervisor),
      clock_(clock),
      logger_(logger),
      metrics_(metrics) {}

PolicyParams Controller::policy_params() const { return PolicyParamsOf(config_); }

GuardrailParams Controller::guardrail_params() const {
  GuardrailParams g;
  g.guest_min_unused_kib =
      MibToKib(static_cast<double>(config_.guardrails.guest_min_unused_mib));
  g.host_min_free_kib =
      MibToKib(static_cast<double>(config_.guardrails.host_min_free_mib));
  g.max_release_fraction = config_.guardrails.max_release_fraction;
  g.stale_after_s = config_.stale_after_s();
  g.require_autodeflate = config_.guardrails.require_autodeflate;
  if (config_.host.guest_budget_mib) {
    g.guest_budget_kib =
        MibToKib(static_cast<double>(*config_.host.guest_budget_mib));
  }
  return g;
}

Status Controller::Configure(const Config& config) {
  Status valid = config.Validate();
  if (!valid.ok()) return valid;
  const PolicyParams params = PolicyParamsOf(config);
  if (!policy_ || policy_->name() != config.policy ||
      !SameParams(params, PolicyParamsOf(config_))) {
    Result<std::unique_ptr<Policy>> policy = MakePolicy(config.policy, params);
    if (!policy.ok()) return policy.status();
    policy_ = std::move(policy.value());
  }
  Adopt(config);
  return Status::Ok();
}

Status Controller::Configure(const Config& config,
                             std::unique_ptr<Policy> policy) {
  if (policy == nullptr) {
    return Status::InvalidArgument("Configure: the injected policy is null");
  }
  Status valid = config.Validate();
  if (!valid.ok()) return valid;
  policy_ = std::move(policy);
  Adopt(config);
  return Status::Ok();
}

void Controller::Adopt(const Config& config) {
  config_ = config;
  // The filter holds its own copy of the configuration: the hypervisor may
  // outlive this one.
  hypervisor_->SetDomainFilter(
      [config](std::string_view name) { return config.Includes(name); });
  hypervisor_->SetCommandFilter(
      [config](std::string_view name, const DomainSettings& metadata) {
        return !config.dry_run && config.LimitsFor(name, metadata).managed;
      });
}

void Controller::NoteAutodeflate(const GuestSample& g, GuestMemo& m) {
  const bool require = config_.guardrails.require_autodeflate;
  AutodeflateNote note = AutodeflateNote::kNone;
  if (g.balloon.autodeflate == false) {
    note = require ? AutodeflateNote::kOffRequired : AutodeflateNote::kOff;
  } else if (!g.balloon.autodeflate && require) {
    note = AutodeflateNote::kUnknownRequired;
  }
  if (note == m.autodeflate) return;
  const AutodeflateNote before = m.autodeflate;
  m.autodeflate = note;
  const std::string never_shrunk =
      "; it is never shrunk (guardrails.require_autodeflate)";
  switch (note) {
    case AutodeflateNote::kOff:
    case AutodeflateNote::kOffRequired:
      logger_->Log(LogLevel::kWarn,
                   "domain " + g.name +
                       " balloon has no autodeflate: out of memory, the guest "
                       "cannot take memory back from its balloon" +
                       (note == AutodeflateNote::kOffRequired ? never_shrunk
                                                              : ""));
      break;
    case AutodeflateNote::kUnknownRequired:
      logger_->Log(LogLevel::kWarn, "domain " + g.name +
                                        " balloon autodeflate is unknown" +
                                        never_shrunk);
      break;
    case AutodeflateNote::kNone:
      if (g.balloon.autodeflate == true && before != AutodeflateNote::kNone) {
        logger_->Log(LogLevel::kInfo,
                     "domain " + g.name + " balloon autodeflate is on");
      }
      break;
  }
}

void Controller::NoteGuestStates(const Snapshot& snapshot,
                                 double stale_after_s) {
  // Views into the snapshot: a tick with thousands of guests should not copy
  // every name into a tree only to find the ones that are gone.
  std::unordered_set<std::string_view> present;
  present.reserve(snapshot.guests.size());
  for (const GuestSample& g : snapshot.guests) {
    present.insert(g.name);
    GuestMemo& m = memo_[g.name];
    const bool first = !m.seen;
    if (first) {
      m.seen = true;
      m.had_stats = g.has_stats();
      logger_->Log(LogLevel::kInfo,
                   "domain " + g.name + " appeared: actual " +
                       Mib(g.actual_kib) + ", maximum " + Mib(g.maximum_kib) +
                       (g.has_stats() ? "" : ", no balloon stats yet") +
                       (g.limits.managed ? "" : ", unmanaged"));
    }
    NoteAutodeflate(g, m);
    if (first) continue;
    if (m.had_stats && !g.has_stats()) {
      logger_->Log(LogLevel::kWarn, "domain " + g.name +
                                        " lost its balloon stats; no action "
                                        "until they are back");
    } else if (!m.had_stats && g.has_stats()) {
      logger_->Log(LogLevel::kInfo,
                   "domain " + g.name + " reports balloon stats");
    }
    m.had_stats = g.has_stats();
    // Stale: the guest still reports, but its numbers stopped moving on
    // (a hung guest agent, a stuck balloon driver). G5 drops its actions.
    const bool stale = g.has_stats() && g.stats_time_s &&
                       snapshot.time_s - *g.stats_time_s > stale_after_s;
    if (stale && !m.stale) {
      char age[32];
      std::snprintf(age, sizeof(age), "%.0f s", snapshot.time_s - *g.stats_time_s);
      logger_->Log(LogLevel::kWarn, "domain " + g.name +
                                        " balloon stats are stale (" + age +
                                        " old); no action until they are fresh");
    } else if (!stale && m.stale && g.has_stats()) {
      logger_->Log(LogLevel::kInfo,
                   "domain " + g.name + " balloon stats are fresh again");
    }
    m.stale = stale;
  }
  for (auto it = memo_.begin(); it != memo_.end();) {
    if (present.count(it->first) == 0) {
      logger_->Log(LogLevel::kInfo, "domain " + it->first + " is gone");
      it = memo_.erase(it);
    } else {
      ++it;
    }
  }
}

TickReport Controller::Tick() {
  const auto wall_start = std::chrono::steady_clock::now();
  TickReport report;
  report.time_s = clock_->NowSeconds();
  report.dry_run = config_.dry_run;
  report.params = PolicyParamsOf(config_);
  report.policy = policy_ ? std::string(policy_->name()) : config_.policy;

  Result<Snapshot> sampled = hypervisor_->Sample();
  if (!sampled.ok()) {
    report.sample_status = sampled.status();
    if (!sample_failing_) {
      logger_->Log(LogLevel::kError,
                   "sampling failed: " + sampled.status().message() +
                       "; no action until it recovers");
      sample_failing_ = true;
    }
  } else {
    if (sample_failing_) {
      logger_->Log(LogLevel::kInfo, "sampling recovered");
      sample_failing_ = false;
    }
    Snapshot& snap = report.snapshot;
    snap = std::move(sampled.value());
    // Excluded guests are invisible to the daemon: no action, no metrics.
    std::vector<GuestSample> kept;
    kept.reserve(snap.guests.size());
    for (GuestSample& g : snap.guests) {
      if (!config_.Includes(g.name)) continue;
      g.limits = config_.LimitsFor(g.name, g.metadata);
      kept.push_back(std::move(g));
    }
    snap.guests = std::move(kept);
    const GuardrailParams rails = guardrail_params();
    snap.guest_budget_kib = rails.guest_budget_kib;
    NoteGuestStates(snap, rails.stale_after_s);
    // Samples usually come sorted by name; the hint makes each insertion
    // constant time then, and costs nothing otherwise.
    for (const GuestSample& g : snap.guests) {
      report.classes.insert_or_assign(
          report.classes.end(), g.name,
          policy_ ? policy_->Classify(g, report.params)
                  : Classify(g, report.params));
    }

    if (policy_) report.proposed = policy_->Decide(snap);
    GuardedPlan guarded = Enforce(report.proposed, snap, rails);
    report.applied = std::move(guarded.plan);
    report.clamps = guarded.clamps;

    for (const Action& a : report.applied.actions) {
      ActionResult r{a, Status::Ok(), false};
      const std::string line = "domain " + a.domain + ": " +
                               Mib(a.from_kib) + " -> " + Mib(a.target_kib) +
                               " (" + std::string(ReasonName(a.reason)) + ")";
      GuestMemo& m = memo_[a.domain];
      if (config_.dry_run) {
        // The guest does not move in dry-run, so the same plan comes back
        // every tick: it is logged when it changes.
        if (!m.planned || m.planned->target_kib != a.target_kib ||
            m.planned->reason != a.reason) {
          logger_->Log(LogLevel::kInfo, line + " [dry-run, not sent]");
          m.planned = a;
        }
      } else {
        m.planned.reset();
        r.status = hypervisor_->SetTarget(a.domain, a.target_kib);
        r.sent = true;
        if (r.status.ok()) {
          logger_->Log(LogLevel::kInfo, line);
          if (m.set_failing) {
            logger_->Log(LogLevel::kInfo,
                         "domain " + a.domain + ": balloon commands work again");
            m.set_failing = false;
          }
        } else if (!m.set_failing) {
          logger_->Log(LogLevel::kError, line + " failed: " +
                                             r.status.message() +
                                             " (logged once until it works)");
          m.set_failing = true;
        }
      }
      report.results.push_back(std::move(r));
    }
  }

  report.duration_s = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - wall_start)
                          .count();
  if (metrics_ != nullptr) metrics_->Record(report, hypervisor_->Health());
  return report;
}

}  // namespace memcoord
