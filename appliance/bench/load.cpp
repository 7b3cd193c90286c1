#include "bench/load.h"

#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "bench/phones.h"
#include "client/flows.h"

namespace mpay::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Tally {
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> failures;
  std::vector<double> latencies_ms;
  void count(const std::optional<client::ApiFailure>& failure, Clock::duration took) {
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
    if (!failure) ++ok;
    else ++failures[failure->code.empty() ? "phone check: " + failure->message : failure->code];
  }
};

PhaseReport report(const std::string& name, std::vector<Tally>& tallies, double seconds) {
  PhaseReport r;
  r.name = name;
  r.seconds = seconds;
  std::vector<double> all;
  for (auto& t : tallies) {
    r.ok += t.ok;
    for (const auto& [code, n] : t.failures) r.failures[code] += n;
    all.insert(all.end(), t.latencies_ms.begin(), t.latencies_ms.end());
  }
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    auto at = [&](double q) { return all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]; };
    r.p50_ms = at(0.50);
    r.p95_ms = at(0.95);
    r.p99_ms = at(0.99);
    r.max_ms = all.back();
  }
  return r;
}

// Each thread owns the phones i with i % threads == its index, so a phone's
// session and counter are never shared. `seconds` 0: one pass over them.
template <typename Step>
PhaseReport phase(const std::string& name, const LoadOptions& o, std::vector<Phone>& phones, double seconds, Step step) {
  std::vector<Tally> tallies(static_cast<std::size_t>(o.threads));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      client::ApiClient api(o.server, o.ca);
      std::vector<Phone*> mine;
      for (std::size_t i = static_cast<std::size_t>(t); i < phones.size(); i += static_cast<std::size_t>(o.threads))
        mine.push_back(&phones[i]);
      if (mine.empty()) return;
      const bool one_pass = seconds == 0;
      for (std::uint64_t n = 0; one_pass ? n < mine.size() : Clock::now() < end; ++n) {
        Phone& phone = *mine[n % mine.size()];
        const auto began = Clock::now();
        auto failure = step(api, phone, t, n);
        tallies[static_cast<std::size_t>(t)].count(failure, Clock::now() - began);
      }
    });
  }
  for (auto& th : threads) th.join();
  return report(name, tallies, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace

bool runLoad(const LoadOptions& o, const std::function<void(const PhaseReport&)>& done) {
  client::ApiClient api(o.server, o.ca);
  auto platform = client::fetchPlatform(api);
  if (!platform) return false;
  const std::string run = newRunTag();
  std::vector<Phone> phones = newPhones(static_cast<std::size_t>(o.phones), run);

  done(phase("enrol", o, phones, 0, [&](client::ApiClient& c, Phone& p, int, std::uint64_t) {
    return enrol(c, platform.value(), o.outbox, p);
  }));
  std::erase_if(phones, [](const Phone& p) { return !p.key; });

  done(phase("login", o, phones, o.seconds, [&](client::ApiClient& c, Phone& p, int, std::uint64_t) {
    auto session = client::login(c, platform.value(), *p.key, p.number, Secret::copyOf(kPassword), unixNow());
    if (!session) return std::optional<client::ApiFailure>(session.error());
    p.session = std::move(session).value();
    return std::optional<client::ApiFailure>();
  }));
  std::erase_if(phones, [](const Phone& p) { return !p.session; });

  done(phase("pay", o, phones, o.seconds, [&](client::ApiClient& c, Phone& p, int t, std::uint64_t n) {
    return payOnce(c, platform.value(), p, "BENCH-" + run + "-" + std::to_string(t) + "-" + std::to_string(n), n);
  }));
  return true;
}

std::optional<TimingReport> runLoginTiming(const LoadOptions& o, int tries) {
  auto enrolled = enrolNewPhones(o, 2);
  if (!enrolled) return std::nullopt;
  client::ApiClient api(o.server, o.ca);
  const auto& platform = enrolled->platform;
  const auto& phones = enrolled->phones;
  const std::string& run = enrolled->tag;
  std::mt19937_64 rng(std::random_device{}());
  const std::string nobody = "+86138" + run + "9999";  // never registered: newPhones uses +86139
  const Secret guess = Secret::copyOf(std::string("not the password"));
  TimingReport r;
  int known_left = tries, unknown_left = tries;
  while (known_left > 0 || unknown_left > 0) {
    const bool known = unknown_left == 0 || (known_left > 0 && rng() % 2 == 0);
    const auto began = Clock::now();
    auto session = client::login(api, platform, *phones[1].key, known ? phones[0].number : nobody, guess,
                                 unixNow());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
    const std::string answer = session ? "ok" : session.error().code;
    (known ? r.known_ms : r.unknown_ms).push_back(ms);
    ++(known ? r.known_answers : r.unknown_answers)[answer];
    --(known ? known_left : unknown_left);
  }
  return r;
}

}  // namespace mpay::bench
