#include "bench/soak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "bench/memory.h"
#include "bench/phones.h"
#include "common/processes.h"

namespace mpay::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Pays from every phone for `seconds`; with `per_s` > 0, paced to that rate
// overall. Returns the payments that succeeded.
std::uint64_t pay(const LoadOptions& o, const client::PlatformData& platform, std::vector<Phone>& phones,
                  const std::string& tag, double seconds, double per_s, SoakReport& report, std::mutex& mutex) {
  std::atomic<std::uint64_t> ok{0}, order{0};
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      client::ApiClient api(o.server, o.ca);
      const auto every = per_s > 0 ? std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(o.threads) / per_s))
                                   : Clock::duration::zero();
      auto next = Clock::now();
      for (std::size_t i = static_cast<std::size_t>(t); Clock::now() < end; i += static_cast<std::size_t>(o.threads)) {
        if (per_s > 0) {
          std::this_thread::sleep_until(next);
          next += every;
        }
        Phone& phone = phones[i % phones.size()];
        if (phone.session && phone.session->expires_at <= unixNow() + 5) {
          // A session lasts its lifetime; a phone logs in again before it ends, as an app would.
          auto session = client::login(api, platform, *phone.key, phone.number, Secret::copyOf(kPassword), unixNow());
          std::lock_guard lock(mutex);
          if (!session) {
            ++report.failures[session.error().code.empty() ? "login: " + session.error().message : session.error().code];
            continue;
          }
          phone.session = std::move(session).value();
          ++report.logins;
        }
        const std::uint64_t n = ++order;
        auto failure = payOnce(api, platform, phone, "SOAK-" + tag + "-" + std::to_string(n), n);
        if (!failure) {
          ++ok;
          continue;
        }
        std::lock_guard lock(mutex);
        ++report.failures[failure->code.empty() ? "phone check: " + failure->message : failure->code];
      }
    });
  }
  for (auto& th : threads) th.join();
  return ok;
}

}  // namespace

std::optional<SoakReport> runSoak(const LoadOptions& o, const SoakOptions& s) {
  // A phone per thread: a phone's session and counter are used by one thread at a time.
  auto enrolled = enrolNewPhones(o, static_cast<std::size_t>(o.threads));
  if (!enrolled) return std::nullopt;
  client::ApiClient api(o.server, o.ca);
  auto& phones = enrolled->phones;
  const auto& platform = enrolled->platform;
  const std::string& tag = enrolled->tag;
  for (auto& phone : phones) {
    auto session = client::login(api, platform, *phone.key, phone.number, Secret::copyOf(kPassword), unixNow());
    if (!session) return std::nullopt;
    phone.session = std::move(session).value();
  }
  SoakReport r;
  std::mutex mutex;
  constexpr double kPeakSeconds = 15;
  r.peak_per_s = static_cast<double>(pay(o, platform, phones, tag + "P", kPeakSeconds, 0, r, mutex)) / kPeakSeconds;
  r.failures.clear();
  r.target_per_s = r.peak_per_s / 2;
  // Warm-up: a third of the run (at least a minute, at most half), so that
  // every worker has served enough to have grown its caches and arenas
  // before it is measured.
  const double total = s.minutes * 60, warm = std::min(std::max(60.0, total / 3), total / 2);
  r.ok = pay(o, platform, phones, tag + "W", warm, r.target_per_s, r, mutex);
  for (const auto& p : applianceProcesses(s.mpayd)) r.memory.push_back({p.role, p.pid});
  for (auto& m : r.memory) m.warm_kib = residentKibOf(m.pid);
  const std::uint64_t measured = pay(o, platform, phones, tag + "S", total - warm, r.target_per_s, r, mutex);
  r.ok += measured;
  r.achieved_per_s = static_cast<double>(measured) / (total - warm);
  for (auto& m : r.memory) m.end_kib = residentKibOf(m.pid);
  return r;
}

}  // namespace mpay::bench
