#include "bench/idle_connections.h"

namespace mpay::bench {

IdleConnections::IdleConnections(const LoadOptions& o, int count) {
  for (int i = 0; i < count; ++i) {
    held_.push_back(std::make_unique<client::ApiClient>(o.server, o.ca));
    if (held_.back()->get("/healthz")) ++answered_;
  }
}

}  // namespace mpay::bench
