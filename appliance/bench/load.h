// What mpay-bench does to an appliance: enrol phones through the real API
// (the development notifier's outbox gives the confirmation codes), then
// log them in and pay with them from several threads for a while, as a
// bank's app would — every answer checked as mpay-client checks it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mpay::bench {

struct LoadOptions {
  std::string server, ca, outbox;
  int phones = 32;
  int threads = 4;
  double seconds = 10;  // per phase
  // After the login and pay phases (closed loop: each thread sends as soon
  // as it has its answer), the same again in open loop at this fraction of
  // the rate each reached; 0: none.
  double open_loop_fraction = 0;
  // Then, for the latency curve, both flows in open loop at each of these
  // fractions of their closed-loop rate ("login curve 0.25", "pay curve 0.25").
  std::vector<double> curve_fractions;
  // Last, when set: `grow_data` runs (mpay-bench --preload adds users to the
  // database) and the pay phase runs again, named "pay " + grown_label.
  std::function<bool()> grow_data;
  std::string grown_label;
  // How many phases runLoad reports with these options.
  int phaseCount() const {
    return 3 + (open_loop_fraction > 0 ? 2 : 0) + 2 * static_cast<int>(curve_fractions.size()) + (grow_data ? 1 : 0);
  }
};

struct PhaseReport {
  std::string name;
  double seconds = 0;
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> failures;  // error code (or the phone's own check) -> count
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  double scheduled_per_s = 0;  // open loop: the rate asked for
  double perSecond() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// Runs the phases in order — enrol, login, pay, then with
// open_loop_fraction "login open-loop" and "pay open-loop" — and hands each report to
// `done` as soon as its phase ends. Phones that fail a phase are left out of
// the next. Returns false if the platform data could not be fetched.
bool runLoad(const LoadOptions& options, const std::function<void(const PhaseReport&)>& done);

// Does the login answer tell a registered number from one nobody holds?
// Two phones are enrolled; the second's key then signs `tries` logins for
// the first (a registered number, a foreign key: what a stranger can send)
// and `tries` for a number never registered, interleaved at random, one at a
// time. Each sample is the whole login as the phone sees it, in ms.
struct TimingReport {
  std::vector<double> known_ms, unknown_ms;
  std::map<std::string, std::uint64_t> known_answers, unknown_answers;  // error code -> count
};
std::optional<TimingReport> runLoginTiming(const LoadOptions& options, int tries);

}  // namespace mpay::bench
