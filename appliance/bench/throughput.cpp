#include "bench/throughput.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "bench/curve_svg.h"
#include "bench/floor.h"
#include "bench/idle_connections.h"
#include "bench/memory.h"
#include "bench/preload.h"
#include "common/processes.h"

namespace mpay::bench {
namespace {

constexpr std::int64_t kBaseUsers = 1000;  // the users the first pay phase runs among, with --preload

void print(const PhaseReport& r) {
  std::printf("%-15s %7llu ok %8.1f/s  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms", r.name.c_str(),
              static_cast<unsigned long long>(r.ok), r.perSecond(), r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms);
  if (r.scheduled_per_s > 0) std::printf("  (scheduled %.1f/s)", r.scheduled_per_s);
  std::printf("\n");
  for (const auto& [code, n] : r.failures)
    std::printf("                %7llu failed: %s\n", static_cast<unsigned long long>(n), code.c_str());
  std::fflush(stdout);
}

std::string step(const PhaseReport& r) { return r.name.substr(0, r.name.find(' ')); }

class Run {
 public:
  explicit Run(const ThroughputOptions& o) : o_(o), t_(o.targets) {}

  int result() const { return result_; }

  void miss(const std::string& what) {
    std::printf("MISSED: %s\n", what.c_str());
    std::fflush(stdout);
    result_ = 1;
  }

  void floorPhase(const PhaseReport& r) {
    print(r);
    if (r.ok == 0 || !r.failures.empty()) miss(r.name + ": not every step was ok");
    floor_[step(r)] = r.perSecond();
  }

  void signerPhase(const PhaseReport& r) {
    print(r);
    if (r.ok == 0 || !r.failures.empty()) miss(r.name + ": not every call was ok");
    if (step(r) != "enrol") ratio(r, "in-process", t_.min_signer_ratio);
  }

  void loadPhase(const PhaseReport& r) {
    ++phases_;
    print(r);
    checkMemory();
    if (r.ok == 0 || !r.failures.empty()) miss(r.name + ": not every answer was ok");
    const bool open_loop = r.scheduled_per_s > 0;
    if (r.name.find(" curve ") != std::string::npos) curve_.push_back(r);
    else if (open_loop && t_.max_open_loop_p99_ms > 0 && r.p99_ms > t_.max_open_loop_p99_ms)
      miss(r.name + ": p99 " + std::to_string(r.p99_ms) + " ms > " + std::to_string(t_.max_open_loop_p99_ms));
    // Enrolment is once per phone and dominated by key generation and PBKDF2: no latency target.
    if (!open_loop && t_.max_p99_ms > 0 && r.name != "enrol" && r.p99_ms > t_.max_p99_ms)
      miss(r.name + ": p99 " + std::to_string(r.p99_ms) + " ms > " + std::to_string(t_.max_p99_ms));
    if (r.name == "login" && r.perSecond() < t_.min_logins_per_s)
      miss("logins " + std::to_string(r.perSecond()) + "/s < " + std::to_string(t_.min_logins_per_s));
    if (r.name == "pay") {
      if (r.perSecond() < t_.min_payments_per_s)
        miss("payments " + std::to_string(r.perSecond()) + "/s < " + std::to_string(t_.min_payments_per_s));
      paid_ = r.perSecond();
    }
    if (r.name == "enrol" || r.name == "login" || r.name == "pay") ratio(r, "floor", r.name == "enrol" ? 0 : t_.min_floor_ratio);
    if (o_.preload > 0 && r.name == "pay " + grownLabel(o_.preload) && paid_ > 0) {
      const double ratio = r.perSecond() / paid_;
      std::printf("                %.2f x pay among %lld users\n", ratio, static_cast<long long>(kBaseUsers));
      if (ratio < t_.min_preload_ratio)
        miss(r.name + ": " + std::to_string(ratio) + " x the rate among " + std::to_string(kBaseUsers) + " users < " +
             std::to_string(t_.min_preload_ratio));
    }
  }

  // With 1,000 synthetic users first, so that the base pay phase is measured among a thousand.
  bool preload(std::int64_t users) {
    const auto started = std::chrono::steady_clock::now();
    auto held = preloadUsers(o_.database, users);
    if (!held) {
      miss("preload: " + held.error().detail);
      return false;
    }
    std::printf("preload         %lld synthetic users with their sessions in the database (%.1f s)\n",
                static_cast<long long>(held.value()),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    std::fflush(stdout);
    // A database an earlier run filled would measure the wrong thing.
    if (held.value() != users) {
      miss("the database already held more synthetic users than " + std::to_string(users) + ": use an empty one");
      return false;
    }
    return true;
  }

  void explain() {
    auto plans = hotQueryPlans(o_.database);
    if (!plans) return miss("explain: " + plans.error().detail);
    for (const auto& [name, plan] : plans.value()) {
      std::printf("plan: %s\n", name.c_str());
      std::size_t start = 0;
      while (start < plan.size()) {
        const std::size_t end = plan.find('\n', start);
        std::printf("      %s\n", plan.substr(start, end - start).c_str());
        start = end == std::string::npos ? plan.size() : end + 1;
      }
    }
    std::fflush(stdout);
  }

  void holdIdleConnections() {
    IdleConnections idle(o_.load, o_.idle_connections);
    std::printf("idle            %d keep-alive connections held open (%d answered)\n", o_.idle_connections,
                idle.answered());
    if (idle.answered() != o_.idle_connections) miss("not every idle connection was answered");
    checkMemory();
  }

  void writeCurve() {
    if (o_.curve_svg.empty()) return;
    char title[160];
    std::snprintf(title, sizeof title, "mpay open-loop latency: %d phones, %d threads, %u cores, %.0f s a point",
                  o_.load.phones, o_.load.threads, std::thread::hardware_concurrency(), o_.load.seconds);
    std::ofstream out(o_.curve_svg, std::ios::trunc);
    out << latencyCurveSvg(title, curve_);
    if (!out.flush()) miss("cannot write " + o_.curve_svg);
    else std::printf("curve           written to %s\n", o_.curve_svg.c_str());
  }

  int phases() const { return phases_; }

 private:
  void ratio(const PhaseReport& r, const char* against, double target) {
    auto floor = floor_.find(step(r));
    if (floor == floor_.end() || floor->second <= 0) return;
    const double x = r.perSecond() / floor->second;
    std::printf("                %.2f x %s (%.1f/s)\n", x, against, floor->second);
    if (x < target) miss(r.name + ": " + std::to_string(x) + " x " + against + " < " + std::to_string(target));
  }

  // Resident memory of each of mpayd's processes, by pid (never by name: a
  // second appliance on the machine must not count).
  void checkMemory() {
    if (o_.mpayd <= 1) return;
    std::vector<std::string> over;  // named after the line
    std::printf("                rss:");
    for (const auto& p : applianceProcesses(o_.mpayd)) {
      const long kib = residentKibOf(p.pid);
      std::printf(" %s[%d] %ld KiB", p.role.c_str(), static_cast<int>(p.pid), kib);
      const double mib = static_cast<double>(kib) / 1024.0;
      if (t_.max_worker_mib > 0 && p.role == "signer-worker" && mib > t_.max_worker_mib)
        over.push_back("signer worker " + std::to_string(p.pid) + " " + std::to_string(mib) + " MiB > " +
                        std::to_string(t_.max_worker_mib));
      if (t_.max_gateway_mib > 0 && p.role == "gateway" && mib > t_.max_gateway_mib)
        over.push_back("gateway " + std::to_string(mib) + " MiB > " + std::to_string(t_.max_gateway_mib));
    }
    std::printf("\n");
    std::fflush(stdout);
    for (const auto& m : over) miss(m);
  }

  const ThroughputOptions& o_;
  const Targets& t_;
  int result_ = 0, phases_ = 0;
  double paid_ = 0;
  std::map<std::string, double> floor_;
  std::vector<PhaseReport> curve_;
};

}  // namespace

std::string grownLabel(std::int64_t users) { return "among " + std::to_string(users) + " users"; }

int runThroughput(const ThroughputOptions& options) {
  ThroughputOptions o = options;
  std::printf("mpay-bench: %d phones, %d threads, %.1f s a phase, against %s\n", o.load.phones, o.load.threads,
              o.load.seconds, o.load.server.c_str());
  Run run(o);
  if (o.floor && !runFloor(o.load, [&](const PhaseReport& r) { run.floorPhase(r); }))
    run.miss("the floor's token could not be made (mpay-admin dev-setup in a temporary directory)");
  if (!o.signer_socket.empty() &&
      !runSignerSocket(o.load, o.signer_socket, o.acquirer_key, [&](const PhaseReport& r) { run.signerPhase(r); }))
    run.miss("the signer socket " + o.signer_socket + " could not be used with the gateway's role");
  if (o.preload > 0) {
    if (!run.preload(kBaseUsers)) return run.result();
    o.load.grow_data = [&] {
      if (!run.preload(o.preload)) return false;
      run.explain();
      return true;
    };
    o.load.grown_label = grownLabel(o.preload);
  }
  if (!runLoad(o.load, [&](const PhaseReport& r) { run.loadPhase(r); }))
    run.miss("the platform data could not be fetched from " + o.load.server + ", or the preload failed");
  else if (run.phases() != o.load.phaseCount())
    run.miss("not every phase ran");
  if (o.idle_connections > 0) run.holdIdleConnections();
  run.writeCurve();
  return run.result();
}

}  // namespace mpay::bench
