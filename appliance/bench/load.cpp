#include "bench/load.h"

#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "bench/phase.h"
#include "bench/phones.h"
#include "client/flows.h"

namespace mpay::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string failureName(const std::optional<client::ApiFailure>& failure) {
  if (!failure) return "";
  return failure->code.empty() ? "phone check: " + failure->message : failure->code;
}

// Phases over HTTP: each thread has its own connection to the gateway.
std::vector<std::unique_ptr<client::ApiClient>> clientsFor(const LoadOptions& o) {
  std::vector<std::unique_ptr<client::ApiClient>> apis;
  for (int t = 0; t < o.threads; ++t) apis.push_back(std::make_unique<client::ApiClient>(o.server, o.ca));
  return apis;
}

template <typename Step>
PhaseReport phase(const std::string& name, const LoadOptions& o, std::vector<Phone>& phones, double seconds, Step step) {
  auto apis = clientsFor(o);
  return runPhase(name, o.threads, phones, seconds, [&](Phone& phone, int t, std::uint64_t n) {
    return failureName(step(*apis[static_cast<std::size_t>(t)], phone, t, n));
  });
}

template <typename Step>
PhaseReport openLoopPhase(const std::string& name, const LoadOptions& o, std::vector<Phone>& phones, double rate,
                          Step step) {
  auto apis = clientsFor(o);
  PhaseReport r = runOpenLoop(name, o.threads, phones, o.seconds, rate, [&](Phone& phone, int t, std::uint64_t n) {
    return failureName(step(*apis[static_cast<std::size_t>(t)], phone, t, n));
  });
  r.scheduled_per_s = rate;
  return r;
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

  auto logIn = [&](client::ApiClient& c, Phone& p, int, std::uint64_t) {
    auto session = client::login(c, platform.value(), *p.key, p.number, Secret::copyOf(kPassword), unixNow());
    if (!session) return std::optional<client::ApiFailure>(session.error());
    p.session = std::move(session).value();
    return std::optional<client::ApiFailure>();
  };
  const PhaseReport login = phase("login", o, phones, o.seconds, logIn);
  done(login);
  std::erase_if(phones, [](const Phone& p) { return !p.session; });

  auto pay = [&](const std::string& tag) {
    return [&, tag](client::ApiClient& c, Phone& p, int t, std::uint64_t n) {
      return payOnce(c, platform.value(), p, "BENCH-" + run + tag + std::to_string(t) + "-" + std::to_string(n), n);
    };
  };
  const PhaseReport paid = phase("pay", o, phones, o.seconds, pay("-"));
  done(paid);
  if (o.open_loop_fraction > 0) {
    done(openLoopPhase("login open-loop", o, phones, o.open_loop_fraction * login.perSecond(), logIn));
    done(openLoopPhase("pay open-loop", o, phones, o.open_loop_fraction * paid.perSecond(), pay("-o")));
  }
  for (double f : o.curve_fractions) {
    char label[32];
    std::snprintf(label, sizeof label, " curve %.2f", f);
    done(openLoopPhase(std::string("login") + label, o, phones, f * login.perSecond(), logIn));
    done(openLoopPhase(std::string("pay") + label, o, phones, f * paid.perSecond(), pay("-c" + std::to_string(static_cast<int>(f * 100)) + "-")));
  }
  if (o.grow_data) {
    if (!o.grow_data()) return false;
    done(phase("pay " + o.grown_label, o, phones, o.seconds, pay("-g")));
  }
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
