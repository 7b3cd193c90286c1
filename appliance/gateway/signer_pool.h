// A small pool of SignerClient connections (at most gateway.signer_connections;
// keep it <= signer workers x threads). A connection that breaks is dropped
// and the call is retried once on a fresh one.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/metrics.h"
#include "gateway/signer_client.h"

namespace mpay::gateway {

class SignerPool {
 public:
  // `timeout_ms` bounds each call (and the wait for a free connection): a
  // signer that does not answer in time is unavailable, not slow.
  // `metrics`, when given, counts every call by result.
  SignerPool(std::string socket_path, int size, int timeout_ms = 5000, GatewayMetrics* metrics = nullptr)
      : path_(std::move(socket_path)), size_(size), timeout_ms_(timeout_ms), metrics_(metrics) {}

  template <typename T>
  Result<T> call(const std::function<Result<T>(SignerClient&)>& fn) {
    const auto started = std::chrono::steady_clock::now();
    Result<T> r = callOnce(fn);
    observe(r.ok() ? nullptr : &r.error(), started);
    return r;
  }

 private:
  template <typename T>
  Result<T> callOnce(const std::function<Result<T>(SignerClient&)>& fn) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto lease = acquire();
      if (!lease) return std::move(lease).error();
      Result<T> r = fn(*lease.value());
      const bool broken = !r.ok() && r.error().code == ErrorCode::kIo;
      release(std::move(lease).value(), broken);
      // The first connection broke after the signer may have read the
      // request: it spent the nonce or counter before it could answer, so
      // the retry is refused as replayed. That is a lost answer, not a
      // replay: the phone sends a fresh request.
      if (attempt == 1 && !r.ok() && r.error().code == ErrorCode::kReplayed)
        return fail(ErrorCode::kIo, "signer connection lost mid-request; the request is spent");
      if (!broken) return r;
    }
    return fail(ErrorCode::kIo, "signer connection lost");
  }
  void observe(const Error* error, std::chrono::steady_clock::time_point started);
  Result<std::unique_ptr<SignerClient>> acquire();
  void release(std::unique_ptr<SignerClient> client, bool broken);

  std::string path_;
  int size_;
  int timeout_ms_;
  GatewayMetrics* metrics_;
  int open_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SignerClient>> idle_;
};

}  // namespace mpay::gateway
