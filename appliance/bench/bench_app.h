// mpay-bench: the speed and memory targets, measured against a running
// development appliance (scripts/bench starts one with the limits a load
// test needs).
//   mpay-bench --server URL --outbox FILE [--ca FILE] [--phones N] [--threads N] [--seconds S]
//              [--floor [--min-floor-ratio X]] [--mpayd-pid PID [--max-worker-mib X] [--max-gateway-mib X]]
//              [--min-logins-per-s X] [--min-payments-per-s X] [--max-p99-ms X]
// Prints one line a phase, with --floor its ratio to the same work done in
// this process on a throwaway token, and with --mpayd-pid the resident
// memory of each of the appliance's processes after it (--max-p99-ms
// applies to login and pay; enrolment is once per phone). Chaos, soak and
// login-timing runs: see the usage text.
// Exit 0 when every answer was ok and every target given was met, 1 when
// not (each miss is named), 2 for bad usage.
#pragma once
#include <string>
#include <vector>

#include "common/option_map_app.h"

namespace mpay::bench {

class BenchApp : public OptionMapApp {
 public:
  BenchApp();

 protected:
  int main(const std::vector<std::string>& args) override;
};

int runBench(int argc, char** argv);

}  // namespace mpay::bench
