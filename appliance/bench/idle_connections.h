// Idle keep-alive connections, as a crowd of phones leaves them between
// payments: each asks /healthz once and is then held open, silent. The
// gateway keeps a cheap thread for each until its request deadline
// (gateway.request_timeout_ms) closes it; what that costs in memory is the
// gateway's target (docs/operations.md, "Benchmarks").
#pragma once
#include <memory>
#include <vector>

#include "bench/load.h"
#include "client/api_client.h"

namespace mpay::bench {

class IdleConnections {
 public:
  // Opens `count` connections one after another; `answered()` says how many got their answer.
  IdleConnections(const LoadOptions& options, int count);
  int answered() const { return answered_; }

 private:
  std::vector<std::unique_ptr<client::ApiClient>> held_;
  int answered_ = 0;
};

}  // namespace mpay::bench
