// One timed phase of the bench: threads share out the phones (phone i to
// thread i % threads, so a phone's session and counter are never shared)
// and run one step after another on them, counting answers and latency.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/load.h"

namespace mpay::bench {

struct Tally {
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> failures;
  std::vector<double> latencies_ms;
  // `failure` empty: the step succeeded.
  void count(const std::string& failure, std::chrono::steady_clock::duration took);
};

PhaseReport summarize(const std::string& name, const std::vector<Tally>& tallies, double seconds);

// `step(phone, thread, n)` returns "" or what failed. `seconds` 0: one pass over the phones.
template <typename PhoneT, typename Step>
PhaseReport runPhase(const std::string& name, int thread_count, std::vector<PhoneT>& phones, double seconds,
                     Step step) {
  using Clock = std::chrono::steady_clock;
  std::vector<Tally> tallies(static_cast<std::size_t>(thread_count));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      std::vector<PhoneT*> mine;
      for (std::size_t i = static_cast<std::size_t>(t); i < phones.size(); i += static_cast<std::size_t>(thread_count))
        mine.push_back(&phones[i]);
      if (mine.empty()) return;
      const bool one_pass = seconds == 0;
      for (std::uint64_t n = 0; one_pass ? n < mine.size() : Clock::now() < end; ++n) {
        const auto began = Clock::now();
        const std::string failure = step(*mine[n % mine.size()], t, n);
        tallies[static_cast<std::size_t>(t)].count(failure, Clock::now() - began);
      }
    });
  }
  for (auto& th : threads) th.join();
  return summarize(name, tallies, std::chrono::duration<double>(Clock::now() - start).count());
}

// Open loop: `rate` steps a second on a fixed schedule, whatever the
// answers' speed. Each latency runs from the step's scheduled time, so a
// stall shows in the tail rather than slowing the schedule down (no
// coordinated omission). Step i uses phone i % phones, one step at a time.
template <typename PhoneT, typename Step>
PhaseReport runOpenLoop(const std::string& name, int thread_count, std::vector<PhoneT>& phones, double seconds,
                        double rate, Step step) {
  using Clock = std::chrono::steady_clock;
  std::vector<Tally> tallies(static_cast<std::size_t>(thread_count));
  std::vector<std::mutex> busy(phones.size());
  // A phase is never empty; a rate of 0 (every closed-loop step failed) schedules nothing.
  const auto total = rate > 0 ? std::max<std::uint64_t>(1, static_cast<std::uint64_t>(seconds * rate)) : 0;
  std::atomic<std::uint64_t> next{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < thread_count && !phones.empty(); ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t n = next++; n < total; n = next++) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(n) / rate));
        std::this_thread::sleep_until(due);
        const std::size_t i = n % phones.size();
        std::lock_guard one_at_a_time(busy[i]);
        const std::string failure = step(phones[i], t, n);
        tallies[static_cast<std::size_t>(t)].count(failure, Clock::now() - due);
      }
    });
  }
  for (auto& th : threads) th.join();
  return summarize(name, tallies, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace mpay::bench
