// Fixed-window rate limits per key (a phone number, a client address):
// at most `per_minute` requests in each 60-second window.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mpay::gateway {

class RateLimiter {
 public:
  explicit RateLimiter(int per_minute) : per_minute_(per_minute) {}
  // Counts one request; false if the key is over its budget in this window.
  bool allow(const std::string& key, std::int64_t now_seconds);

 private:
  int per_minute_;
  std::mutex mutex_;
  std::int64_t window_ = -1;
  std::unordered_map<std::string, int> counts_;
};

}  // namespace mpay::gateway
