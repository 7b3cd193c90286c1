#include "gateway/rate_limiter.h"

namespace mpay::gateway {

bool RateLimiter::allow(const std::string& key, std::int64_t now_seconds) {
  std::lock_guard lock(mutex_);
  const std::int64_t window = now_seconds / 60;
  if (window != window_) {  // a new window: forget every count (bounded memory)
    window_ = window;
    counts_.clear();
  }
  return ++counts_[key] <= per_minute_;
}

}  // namespace mpay::gateway
