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

#include "client/flows.h"
#include "suite/certificate_file.h"

namespace mpay::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kPassword[] = "bench password 1";
constexpr char kPin[] = "135790";

struct Phone {
  std::string number;
  std::optional<suite::EcPrivateKey> key;  // opened once from the certificate file
  std::optional<client::CachedSession> session;
};

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

// The newest confirmation code the development notifier wrote for `phone`.
std::string confirmationCode(const std::string& outbox, const std::string& phone) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::ifstream in(outbox);
    std::string line, code;
    while (std::getline(in, line)) {
      try {
        auto o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
        if (o->optValue<std::string>("phone", "") == phone) code = o->optValue<std::string>("code", "");
      } catch (const Poco::Exception&) {
      }
    }
    if (!code.empty()) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

std::optional<client::ApiFailure> enrol(client::ApiClient& api, const client::PlatformData& platform, const std::string& outbox,
                                        Phone& phone) {
  const std::string imei = "35693803564380", sim = "8986001234567890123";
  suite::Info1 info{phone.number, imei, sim, Secret::copyOf(kPassword), Secret::copyOf(kPin), "Bench User", "BENCH1"};
  auto code = client::registerPhone(api, platform, info);
  if (!code) return code.error();
  const std::string confirmation = confirmationCode(outbox, phone.number);
  if (confirmation.empty()) return client::localFailure("no confirmation code in " + outbox);
  auto p12 = client::activatePhone(api, phone.number, code.value(), confirmation);
  if (!p12) return p12.error();
  auto opened = suite::openCertificateFile(p12.value(), suite::info3Password(phone.number, imei, sim, Secret::copyOf(kPassword)));
  if (!opened) return client::localFailure("the certificate file does not open: " + opened.error().detail);
  phone.key = std::move(opened->private_key);
  return std::nullopt;
}

std::uint64_t unixNow() { return static_cast<std::uint64_t>(std::time(nullptr)); }

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

// Numbers unique to this run, so a second run against the same appliance enrols new phones.
std::vector<Phone> newPhones(std::size_t count, const std::string& run) {
  std::vector<Phone> phones(count);
  for (std::size_t i = 0; i < phones.size(); ++i) {
    std::string index = std::to_string(i);
    phones[i].number = "+86139" + run + std::string(4 - std::min<std::size_t>(4, index.size()), '0') + index;
  }
  return phones;
}

}  // namespace

bool runLoad(const LoadOptions& o, const std::function<void(const PhaseReport&)>& done) {
  client::ApiClient api(o.server, o.ca);
  auto platform = client::fetchPlatform(api);
  if (!platform) return false;
  std::mt19937_64 rng(std::random_device{}());
  const std::string run = std::to_string(10000 + rng() % 90000);
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
    client::PaymentInput in;
    in.order_no = "BENCH-" + run + "-" + std::to_string(t) + "-" + std::to_string(n);
    in.phone = p.number;
    in.amount_minor = 100 + n % 9900;
    in.currency = "CNY";
    in.content = "mpay-bench " + in.order_no;
    in.counter = ++p.session->counter;
    in.timestamp = unixNow();
    auto receipt = client::pay(c, platform.value(), in, Secret::copyOf(kPin), p.session->keys, *p.key);
    if (!receipt) return std::optional<client::ApiFailure>(receipt.error());
    if (receipt->result != suite::PaymentResult::kApproved)
      return std::optional<client::ApiFailure>(client::localFailure("declined by the acquirer"));
    return std::optional<client::ApiFailure>();
  }));
  return true;
}

std::optional<TimingReport> runLoginTiming(const LoadOptions& o, int tries) {
  client::ApiClient api(o.server, o.ca);
  auto platform = client::fetchPlatform(api);
  if (!platform) return std::nullopt;
  std::mt19937_64 rng(std::random_device{}());
  const std::string run = std::to_string(10000 + rng() % 90000);
  std::vector<Phone> phones = newPhones(2, run);
  for (auto& phone : phones)
    if (enrol(api, platform.value(), o.outbox, phone)) return std::nullopt;
  const std::string nobody = "+86138" + run + "9999";  // never registered: newPhones uses +86139
  const Secret guess = Secret::copyOf(std::string("not the password"));
  TimingReport r;
  int known_left = tries, unknown_left = tries;
  while (known_left > 0 || unknown_left > 0) {
    const bool known = unknown_left == 0 || (known_left > 0 && rng() % 2 == 0);
    const auto began = Clock::now();
    auto session = client::login(api, platform.value(), *phones[1].key, known ? phones[0].number : nobody, guess,
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
