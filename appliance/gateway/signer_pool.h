// A small pool of SignerClient connections (at most gateway.signer_connections;
// keep it <= signer workers x threads). A connection that breaks is dropped
// and the call is retried once on a fresh one.
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/signer_client.h"

namespace mpay::gateway {

class SignerPool {
 public:
  // `timeout_ms` bounds each call (and the wait for a free connection): a
  // signer that does not answer in time is unavailable, not slow.
  SignerPool(std::string socket_path, int size, int timeout_ms = 5000)
      : path_(std::move(socket_path)), size_(size), timeout_ms_(timeout_ms) {}

  template <typename T>
  Result<T> call(const std::function<Result<T>(SignerClient&)>& fn) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto lease = acquire();
      if (!lease) return std::move(lease).error();
      Result<T> r = fn(*lease.value());
      const bool broken = !r.ok() && r.error().code == ErrorCode::kIo;
      release(std::move(lease).value(), broken);
      if (!broken) return r;
    }
    return fail(ErrorCode::kIo, "signer connection lost");
  }

 private:
  Result<std::unique_ptr<SignerClient>> acquire();
  void release(std::unique_ptr<SignerClient> client, bool broken);

  std::string path_;
  int size_;
  int timeout_ms_;
  int open_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SignerClient>> idle_;
};

}  // namespace mpay::gateway
