#include "bench/chaos.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "bench/phones.h"
#include "common/processes.h"

namespace mpay::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  std::mutex mutex;
  ChaosReport report;
  std::atomic<std::int64_t> last_success_ns{0};
  std::atomic<bool> stop{false};
  void answer(const std::string& code) {
    std::lock_guard lock(mutex);
    ++report.answers[code];
    if (code != "ok" && !retryable(code)) ++report.unexpected[code];
  }
};

std::int64_t nowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

std::string codeOf(const client::ApiFailure& f) {
  if (f.http_status == 0 && f.code.empty()) return "phone check: " + f.message;
  return f.code.empty() ? "http " + std::to_string(f.http_status) : f.code;
}

// One phone thread: pays order after order; each order is retried until it has an outcome.
void payUntilStopped(const LoadOptions& o, const client::PlatformData& platform, Phone& phone, const std::string& tag,
                     Shared& shared) {
  client::ApiClient api(o.server, o.ca);
  std::uint64_t n = 0;
  std::optional<client::PaymentInput> open;  // the order in flight, sent again until it has an outcome
  while (!shared.stop) {
    if (!phone.session) {
      auto session = client::login(api, platform, *phone.key, phone.number, Secret::copyOf(kPassword), unixNow());
      if (!session) {
        shared.answer(codeOf(session.error()));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      shared.answer("ok");
      phone.session = std::move(session).value();
    }
    if (!open) {
      client::PaymentInput in;
      in.order_no = "CHAOS-" + tag + "-" + phone.number.substr(phone.number.size() - 4) + "-" + std::to_string(++n);
      in.phone = phone.number;
      in.amount_minor = 100 + n % 9900;
      in.currency = "CNY";
      in.content = "mpay-bench chaos " + in.order_no;
      open = in;
    }
    open->counter = ++phone.session->counter;
    open->timestamp = unixNow();
    auto receipt = client::pay(api, platform, *open, Secret::copyOf(kPin), phone.session->keys, *phone.key);
    if (receipt) {
      shared.answer("ok");
      const std::int64_t now = nowNs();
      const std::int64_t before = shared.last_success_ns.exchange(now);
      std::lock_guard lock(shared.mutex);
      if (before > 0 && now > before)
        shared.report.longest_gap_ms = std::max(shared.report.longest_gap_ms, static_cast<double>(now - before) / 1e6);
      ++shared.report.payments;
      open.reset();
      continue;
    }
    const std::string code = codeOf(receipt.error());
    shared.answer(code);
    if (code == "unknown_session" || code == "session_expired") phone.session.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (open) {
    std::lock_guard lock(shared.mutex);
    ++shared.report.pending_at_end;
  }
}

using Target = ApplianceProcess;

// The time from `killed_at` to the next successful payment, or a note that
// there was none within 30 s.
std::string recoveryAfter(std::int64_t killed_at, Shared& shared) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < give_up) {
    if (shared.last_success_ns > killed_at) {
      const double ms = static_cast<double>(shared.last_success_ns - killed_at) / 1e6;
      std::lock_guard lock(shared.mutex);
      shared.report.recovery_ms.push_back(ms);
      return " recovered in " + std::to_string(static_cast<long>(ms)) + " ms";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return " no successful payment within 30 s";
}

// One disruption a third into the run: a whole appliance killed, or the command run.
void disruptOnce(const ChaosOptions& c, Shared& shared) {
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds));
  std::this_thread::sleep_for(std::chrono::duration<double>(c.seconds / 3));
  std::string line;
  const std::int64_t started_at = nowNs();
  if (c.whole_appliance) {
    std::vector<Target> all = applianceProcesses(c.mpayd);
    ::kill(c.mpayd, SIGKILL);  // first, so that it restarts nothing
    for (const auto& t : all) ::kill(t.pid, SIGKILL);
    line = "appliance mpayd " + std::to_string(c.mpayd) + " and its " + std::to_string(all.size()) + " processes";
  } else {
    const int status = std::system(c.command.c_str());
    line = "command '" + c.command + "' (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
           ", took " + std::to_string((nowNs() - started_at) / 1000000) + " ms)";
  }
  line += recoveryAfter(started_at, shared);
  {
    std::lock_guard lock(shared.mutex);
    shared.report.kills.push_back(line);
  }
  std::this_thread::sleep_until(end);
}

void killAtRandom(const ChaosOptions& c, Shared& shared) {
  if (c.whole_appliance || !c.command.empty()) return disruptOnce(c, shared);
  std::mt19937_64 rng(std::random_device{}());
  const auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds / c.kills));
  for (int k = 0; k < c.kills; ++k) {
    const auto next = Clock::now() + every;
    // Kinds first, then a process of that kind: workers are many, and must not take every turn.
    std::vector<Target> all;
    for (int wait = 0; wait < 100 && all.empty(); ++wait) {
      all = applianceProcesses(c.mpayd);
      if (all.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::set<std::string> kinds;
    for (const auto& t : all) kinds.insert(t.role);
    if (kinds.empty()) break;
    auto kind = std::next(kinds.begin(), static_cast<long>(rng() % kinds.size()));
    std::vector<Target> of_kind;
    for (const auto& t : all)
      if (t.role == *kind) of_kind.push_back(t);
    const Target victim = of_kind[rng() % of_kind.size()];
    const std::int64_t killed_at = nowNs();
    ::kill(victim.pid, SIGKILL);
    std::string line = victim.role + " " + std::to_string(victim.pid);
    bool recovered = false;
    while (Clock::now() < next || !recovered) {
      if (!recovered && shared.last_success_ns > killed_at) {
        const double ms = static_cast<double>(shared.last_success_ns - killed_at) / 1e6;
        std::lock_guard lock(shared.mutex);
        shared.report.recovery_ms.push_back(ms);
        line += " recovered in " + std::to_string(static_cast<long>(ms)) + " ms";
        recovered = true;
      }
      if (Clock::now() >= next + std::chrono::seconds(30)) break;  // never paid again: report it
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!recovered) line += " no successful payment within 30 s";
    std::lock_guard lock(shared.mutex);
    shared.report.kills.push_back(line);
  }
}

}  // namespace

bool retryable(const std::string& code) {
  // appliance_unavailable: a cluster's load balancer lost the appliance
  // that had the request, or has none (docs/protocol.md §7.7).
  static const std::set<std::string> kRetryable = {"no_answer",       "signer_unavailable", "database_unavailable",
                                                   "overloaded",      "acquirer_unavailable", "payment_pending",
                                                   "request_timeout", "rate_limited",         "appliance_unavailable"};
  return kRetryable.contains(code);
}

std::optional<ChaosReport> runChaos(const LoadOptions& o, const ChaosOptions& c) {
  auto enrolled = enrolNewPhones(o, static_cast<std::size_t>(o.phones));
  if (!enrolled) return std::nullopt;
  Shared shared;
  std::vector<std::thread> threads;
  for (auto& phone : enrolled->phones)
    threads.emplace_back([&] { payUntilStopped(o, enrolled->platform, phone, enrolled->tag, shared); });
  killAtRandom(c, shared);
  shared.stop = true;
  for (auto& t : threads) t.join();
  return shared.report;
}

}  // namespace mpay::bench
