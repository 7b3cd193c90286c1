#include "bench/phase.h"

#include <algorithm>

namespace mpay::bench {

void Tally::count(const std::string& failure, std::chrono::steady_clock::duration took) {
  latencies_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
  if (failure.empty()) ++ok;
  else ++failures[failure];
}

PhaseReport summarize(const std::string& name, const std::vector<Tally>& tallies, double seconds) {
  PhaseReport r;
  r.name = name;
  r.seconds = seconds;
  std::vector<double> all;
  for (const auto& t : tallies) {
    r.ok += t.ok;
    for (const auto& [code, n] : t.failures) r.failures[code] += n;
    all.insert(all.end(), t.latencies_ms.begin(), t.latencies_ms.end());
  }
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    auto at = [&](double q) {
      return all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))];
    };
    r.p50_ms = at(0.50);
    r.p95_ms = at(0.95);
    r.p99_ms = at(0.99);
    r.max_ms = all.back();
  }
  return r;
}

}  // namespace mpay::bench
