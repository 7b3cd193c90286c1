// mpay-bench --soak-minutes: a long, steady payment load at half the peak
// rate measured first, with every answer counted and the resident memory
// of each of mpayd's children (by pid: the signer's parent, each worker, the
// gateway; the acquirer simulator's too, for information: it keeps every
// order in memory by design) taken after warm-up and at the end.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/load.h"

namespace mpay::bench {

struct SoakOptions {
  pid_t mpayd = 0;
  double minutes = 30;
};

struct ProcessMemory {
  std::string name;
  pid_t pid = 0;
  long warm_kib = 0, end_kib = 0;  // end -1: the process was gone (restarted)
};

struct SoakReport {
  double peak_per_s = 0, target_per_s = 0, achieved_per_s = 0;
  std::uint64_t ok = 0, logins = 0;  // payments; logins again as sessions ran out
  std::map<std::string, std::uint64_t> failures;
  std::vector<ProcessMemory> memory;
};

std::optional<SoakReport> runSoak(const LoadOptions& load, const SoakOptions& soak);

}  // namespace mpay::bench
