// mpay-bench's main run: the floor, the signer socket, then enrol, login
// and pay through the real API (open loop, latency curve, a million users
// when asked), each phase checked against the targets given. Every miss is
// printed as "MISSED: ..." and makes the run fail.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "bench/load.h"

namespace mpay::bench {

struct Targets {  // 0: not checked
  double min_logins_per_s = 0, min_payments_per_s = 0, max_p99_ms = 0;
  double min_floor_ratio = 0, min_signer_ratio = 0, max_open_loop_p99_ms = 0, min_preload_ratio = 0;
  double max_worker_mib = 0, max_gateway_mib = 0;
};

struct ThroughputOptions {
  LoadOptions load;
  Targets targets;
  bool floor = false;         // the same work in-process first (--floor)
  std::string signer_socket;  // and through the signer's socket (--signer)
  std::string acquirer_key;   // signs the acquirer's answers there (--acquirer-key)
  pid_t mpayd = 0;            // memory of its processes by pid
  int idle_connections = 0;   // held open after the phases, the gateway's memory measured
  std::int64_t preload = 0;   // users in the database for the last pay phase (1,000 for the first)
  std::string database;       // the gateway's db_url, for --preload
  std::string curve_svg;      // where to write the latency curve
};

// The name suffix of the pay phase run among `users` users ("among 1000000 users").
std::string grownLabel(std::int64_t users);

// 0 when every answer was ok and every target met, 1 otherwise.
int runThroughput(const ThroughputOptions& options);

}  // namespace mpay::bench
