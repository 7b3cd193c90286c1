#include "bench/bench_app.h"

#include <Poco/Exception.h>
#include <Poco/NumberParser.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "bench/chaos.h"
#include "bench/soak.h"
#include "bench/load.h"
#include "bench/throughput.h"
#include "common/command_line.h"

namespace mpay::bench {
namespace {

constexpr int kOk = 0, kMissed = 1, kUsage = kExitUsage;
constexpr char kUsageText[] =
    "usage: mpay-bench --server URL --outbox FILE [--ca FILE] [--phones N] [--threads N] [--seconds S]\n"
    "                  [--floor [--min-floor-ratio X]] [--mpayd-pid PID [--max-worker-mib X] [--max-gateway-mib X]]\n"
    "                  [--open-loop F [--max-open-loop-p99-ms X]]\n"
    "                  [--signer SOCKET --acquirer-key FILE [--min-signer-ratio X]] [--idle-connections N]\n"
    "                  [--preload N --database URL [--min-preload-ratio X]] [--curve FILE.svg]\n"
    "                  [--min-logins-per-s X] [--min-payments-per-s X] [--max-p99-ms X (login, pay)]\n"
    "  --open-loop F: login and pay again on a fixed schedule at F times the rate each reached, latency\n"
    "  from each request's scheduled time\n"
    "  --floor: first the same work in this process on a throwaway token (no HTTP, socket, database or\n"
    "  audit log), then each end-to-end rate as a ratio of it; --mpayd-pid: memory of each process by pid\n"
    "  --signer: the floor's work through the appliance's signer socket with the gateway's role (run as\n"
    "  the gateway's user), each rate as a ratio of the floor's; the acquirer's answers signed with\n"
    "  --acquirer-key (the simulator's key: the one the signer's acquirer_certificate names)\n"
    "  --idle-connections N: after the phases, N keep-alive connections each answered once and held\n"
    "  open while the gateway's memory is measured\n"
    "  --preload N: the pay phase among 1,000 synthetic users (written into the gateway's database at\n"
    "  URL), then again among N, with the plans of the hot queries\n"
    "  --curve: both flows in open loop at 0.1 .. 0.9 of their rate, p50/p99 drawn to FILE.svg\n"
    "       mpay-bench --server URL --outbox FILE [--ca FILE] --login-timing N\n"
    "       mpay-bench --server URL --outbox FILE [--ca FILE] [--phones N] --chaos-kills N --chaos-seconds S\n"
    "                  --mpayd-pid PID\n"
    "       mpay-bench --server URL --outbox FILE [--ca FILE] [--phones N] --kill-appliance MPAYD_PID --chaos-seconds S\n"
    "  --chaos-kills: phones pay while N of mpayd's children are killed (SIGKILL) at random over S seconds;\n"
    "       mpay-bench --server URL --outbox FILE [--ca FILE] [--phones N] --chaos-command CMD --chaos-seconds S\n"
    "  --chaos-command: CMD (a database failover, say) runs a third into S; the time to the next successful payment is printed;\n"
    "  --kill-appliance: through a cluster's load balancer, one appliance (mpayd and all it started) is killed a third into S;\n"
    "  prints every answer by code, each kill and the time to the next successful payment (scripts/chaos)\n"
    "       mpay-bench --server URL --outbox FILE [--ca FILE] [--threads N] --soak-minutes M --mpayd-pid PID\n"
    "  --soak-minutes: payments at half the peak rate measured first, for M minutes; 0 errors and each\n"
    "  process's resident memory (by pid) growing under 5 % after warm-up (scripts/soak)\n"
    "  --login-timing N: N logins for a registered number signed by a foreign key and N for a number\n"
    "  never registered, interleaved; prints both answers and latency distributions (docs/threat-model.md)\n";

double number(const std::map<std::string, std::string>& o, const std::string& key, double fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : Poco::NumberParser::parseFloat(it->second);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// The probability that a known-number sample is slower than an unknown-number
// one (the Mann-Whitney U statistic over n*m): 0.5 when timing tells nothing.
double probabilitySlower(const std::vector<double>& a, const std::vector<double>& b) {
  double wins = 0;
  for (double x : a)
    for (double y : b) wins += x > y ? 1.0 : x == y ? 0.5 : 0.0;
  return a.empty() || b.empty() ? 0.5 : wins / (static_cast<double>(a.size()) * static_cast<double>(b.size()));
}

int reportTiming(const TimingReport& r) {
  auto line = [](const char* name, const std::vector<double>& ms, const std::map<std::string, std::uint64_t>& answers) {
    std::printf("%-34s n %4zu  p10 %7.2f ms  p50 %7.2f ms  p90 %7.2f ms  answers:", name, ms.size(), quantile(ms, 0.1),
                quantile(ms, 0.5), quantile(ms, 0.9));
    for (const auto& [code, n] : answers) std::printf(" %s %llu", code.c_str(), static_cast<unsigned long long>(n));
    std::printf("\n");
  };
  line("registered number, foreign key", r.known_ms, r.known_answers);
  line("number never registered", r.unknown_ms, r.unknown_answers);
  std::printf("P(registered slower than unknown) = %.3f  (0.5: timing tells nothing)\n",
              probabilitySlower(r.known_ms, r.unknown_ms));
  std::fflush(stdout);
  if (r.known_answers != r.unknown_answers) {
    std::printf("MISSED: the answers differ\n");
    return kMissed;
  }
  return kOk;
}

int reportChaos(const ChaosReport& r, const ChaosOptions& c) {
  int result = kOk;
  std::printf("chaos: %d kills over %.0f s; %llu orders paid, %llu still pending at the end (the appliance completes them)\n",
              c.kills, c.seconds, static_cast<unsigned long long>(r.payments),
              static_cast<unsigned long long>(r.pending_at_end));
  for (const auto& line : r.kills) std::printf("  kill %s\n", line.c_str());
  std::printf("answers:");
  for (const auto& [code, n] : r.answers) std::printf(" %s %llu", code.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
  int slow = 0;
  for (double ms : r.recovery_ms) slow += ms > 2000;
  std::printf("longest stretch without a successful payment: %.0f ms\n", r.longest_gap_ms);
  std::printf("kill to next successful payment: p50 %.0f ms, max %.0f ms, %d of %zu over 2 s (target: none)\n",
              quantile(r.recovery_ms, 0.5), r.recovery_ms.empty() ? 0.0 : quantile(r.recovery_ms, 1.0), slow,
              r.recovery_ms.size());
  for (const auto& [code, n] : r.unexpected) {
    std::printf("MISSED: %llu answers '%s', neither ok nor a documented retryable error\n",
                static_cast<unsigned long long>(n), code.c_str());
    result = kMissed;
  }
  if (r.recovery_ms.size() != r.kills.size()) {
    std::printf("MISSED: after %zu kills no payment succeeded again within 30 s\n", r.kills.size() - r.recovery_ms.size());
    result = kMissed;
  }
  if (r.payments == 0) {
    std::printf("MISSED: no payment reached an outcome\n");
    result = kMissed;
  }
  std::fflush(stdout);
  return result;
}

int reportSoak(const SoakReport& r, const SoakOptions& s) {
  int result = kOk;
  std::printf("soak: %.0f min; peak %.1f payments/s, target %.1f/s, achieved %.1f/s; %llu payments ok, %llu logins again\n",
              s.minutes, r.peak_per_s, r.target_per_s, r.achieved_per_s, static_cast<unsigned long long>(r.ok),
              static_cast<unsigned long long>(r.logins));
  for (const auto& [code, n] : r.failures) {
    std::printf("MISSED: %llu failed: %s\n", static_cast<unsigned long long>(n), code.c_str());
    result = kMissed;
  }
  std::printf("| process | pid | RSS after warm-up (KiB) | RSS at the end (KiB) | growth |\n|---|---|---|---|---|\n");
  for (const auto& m : r.memory) {
    const double growth = m.warm_kib > 0 && m.end_kib >= 0
                              ? 100.0 * static_cast<double>(m.end_kib - m.warm_kib) / static_cast<double>(m.warm_kib)
                              : 0;
    std::printf("| %s | %d | %ld | %ld | %+.1f %% |\n", m.name.c_str(), static_cast<int>(m.pid), m.warm_kib, m.end_kib,
                growth);
    if (m.end_kib < 0) {
      std::printf("MISSED: %s %d was restarted during the soak\n", m.name.c_str(), static_cast<int>(m.pid));
      result = kMissed;
    } else if (growth >= 5.0 && m.name != "acquirer-sim") {  // the simulator keeps every order by design
      std::printf("MISSED: %s %d grew %.1f %% (target: under 5 %%)\n", m.name.c_str(), static_cast<int>(m.pid), growth);
      result = kMissed;
    }
  }
  if (r.achieved_per_s < 0.9 * r.target_per_s) {
    std::printf("MISSED: achieved %.1f/s of the %.1f/s target\n", r.achieved_per_s, r.target_per_s);
    result = kMissed;
  }
  std::fflush(stdout);
  return result;
}

}  // namespace

BenchApp::BenchApp()
    : OptionMapApp({"server", "outbox", "ca", "phones", "threads", "seconds", "min-logins-per-s", "min-payments-per-s",
                    "max-p99-ms", "max-worker-mib", "max-gateway-mib", "min-floor-ratio", "signer", "acquirer-key", "min-signer-ratio",
                    "open-loop", "max-open-loop-p99-ms", "idle-connections", "preload", "database", "min-preload-ratio",
                    "curve", "login-timing", "chaos-kills", "chaos-seconds", "mpayd-pid", "kill-appliance", "chaos-command", "soak-minutes"},
                   {"floor"}) {}

int BenchApp::main(const std::vector<std::string>& args) {
  if (!args.empty() || !options().contains("server") || !options().contains("outbox")) {
    std::cerr << kUsageText;
    return kUsage;
  }
  LoadOptions load;
  load.server = options().at("server");
  load.ca = options().contains("ca") ? options().at("ca") : "";
  load.outbox = options().at("outbox");
  Targets targets;
  int login_tries = 0, idle = 0;
  std::int64_t preload = 0;
  ChaosOptions chaos;
  SoakOptions soak;
  try {
    soak.minutes = number(options(), "soak-minutes", 30);
    login_tries = static_cast<int>(number(options(), "login-timing", 0));
    chaos.kills = static_cast<int>(number(options(), "chaos-kills", 0));
    chaos.seconds = number(options(), "chaos-seconds", 20);
    chaos.mpayd = static_cast<pid_t>(number(options(), "mpayd-pid", 0));
    if (options().contains("kill-appliance")) {
      chaos.whole_appliance = true;
      chaos.kills = 1;
      chaos.mpayd = static_cast<pid_t>(number(options(), "kill-appliance", 0));
    }
    if (options().contains("chaos-command")) {
      chaos.command = options().at("chaos-command");
      chaos.kills = 1;
    }
    soak.mpayd = chaos.mpayd;
    load.phones = static_cast<int>(number(options(), "phones", load.phones));
    load.threads = static_cast<int>(number(options(), "threads", load.threads));
    load.seconds = number(options(), "seconds", load.seconds);
    targets.min_logins_per_s = number(options(), "min-logins-per-s", 0);
    targets.min_payments_per_s = number(options(), "min-payments-per-s", 0);
    targets.max_p99_ms = number(options(), "max-p99-ms", 0);
    targets.max_worker_mib = number(options(), "max-worker-mib", 0);
    targets.max_gateway_mib = number(options(), "max-gateway-mib", 0);
    targets.min_floor_ratio = number(options(), "min-floor-ratio", 0);
    targets.min_signer_ratio = number(options(), "min-signer-ratio", 0);
    targets.min_preload_ratio = number(options(), "min-preload-ratio", 0);
    targets.max_open_loop_p99_ms = number(options(), "max-open-loop-p99-ms", 0);
    load.open_loop_fraction = number(options(), "open-loop", 0);
    idle = static_cast<int>(number(options(), "idle-connections", 0));
    preload = static_cast<std::int64_t>(number(options(), "preload", 0));
  } catch (const Poco::SyntaxException& e) {
    std::cerr << "mpay-bench: not a number: " << e.message() << "\n" << kUsageText;
    return kUsage;
  }
  if (load.phones < 1 || load.phones > 10000 || load.threads < 1 || load.threads > 256 || load.seconds <= 0 ||
      load.open_loop_fraction < 0 || load.open_loop_fraction > 1) {
    std::cerr << "mpay-bench: --phones 1..10000, --threads 1..256, --seconds > 0, --open-loop 0..1\n";
    return kUsage;
  }
  if (options().contains("soak-minutes")) {
    if (soak.minutes < 1 || soak.mpayd <= 1) {
      std::cerr << "mpay-bench: --soak-minutes >= 1 and --mpayd-pid are needed\n";
      return kUsage;
    }
    auto report = runSoak(load, soak);
    if (!report) {
      std::printf("MISSED: could not enrol and log in the phones at %s\n", load.server.c_str());
      return kMissed;
    }
    return reportSoak(report.value(), soak);
  }
  if (options().contains("chaos-kills") || chaos.whole_appliance || !chaos.command.empty()) {
    if (chaos.kills < 1 || chaos.seconds <= 0 || (chaos.mpayd <= 1 && chaos.command.empty())) {
      std::cerr << "mpay-bench: --chaos-kills >= 1, --chaos-seconds > 0 and --mpayd-pid are needed\n";
      return kUsage;
    }
    auto report = runChaos(load, chaos);
    if (!report) {
      std::printf("MISSED: could not enrol the phones at %s\n", load.server.c_str());
      return kMissed;
    }
    return reportChaos(report.value(), chaos);
  }
  if (options().contains("login-timing")) {
    if (login_tries < 1 || login_tries > 100000) {
      std::cerr << "mpay-bench: --login-timing 1..100000\n";
      return kUsage;
    }
    auto timing = runLoginTiming(load, login_tries);
    if (!timing) {
      std::printf("MISSED: could not enrol two phones at %s\n", load.server.c_str());
      return kMissed;
    }
    return reportTiming(timing.value());
  }
  ThroughputOptions run;
  run.load = load;
  run.targets = targets;
  run.floor = options().contains("floor");
  run.signer_socket = options().contains("signer") ? options().at("signer") : "";
  run.acquirer_key = options().contains("acquirer-key") ? options().at("acquirer-key") : "";
  run.mpayd = chaos.mpayd;
  run.database = options().contains("database") ? options().at("database") : "";
  run.curve_svg = options().contains("curve") ? options().at("curve") : "";
  if (!run.curve_svg.empty()) run.load.curve_fractions = {0.1, 0.25, 0.5, 0.75, 0.9};
  if ((preload > 0 && run.database.empty()) || preload < 0 || (preload > 0 && preload <= 1000) || preload > 100000000 ||
      idle < 0 || idle > 100000) {
    std::cerr << "mpay-bench: --preload 1001..100000000 (the first pay phase runs among 1,000) goes with --database;"
                 " --idle-connections 0..100000\n";
    return kUsage;
  }
  // A ratio needs the floor it is a ratio of: without --floor it could not be missed.
  if (!run.floor && (options().contains("min-floor-ratio") || options().contains("min-signer-ratio"))) {
    std::cerr << "mpay-bench: --min-floor-ratio and --min-signer-ratio need --floor\n";
    return kUsage;
  }
  if (options().contains("min-signer-ratio") && run.signer_socket.empty()) {
    std::cerr << "mpay-bench: --min-signer-ratio needs --signer\n";
    return kUsage;
  }
  run.preload = preload;
  run.idle_connections = idle;
  return runThroughput(run);
}

int runBench(int argc, char** argv) {
  BenchApp app;
  return runCommandLine(app, argc, argv, "mpay-bench", kUsageText);
}

}  // namespace mpay::bench
