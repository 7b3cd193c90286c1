#include "gateway/signer_pool.h"

#include <chrono>

namespace mpay::gateway {

Result<std::unique_ptr<SignerClient>> SignerPool::acquire() {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms_), [&] { return !idle_.empty() || open_ < size_; }))
    return fail(ErrorCode::kIo, "no signer connection free");
  // Idle connections the signer closed meanwhile (its idle timeout, a
  // restart) are dropped here, before a request is spent on them.
  while (!idle_.empty()) {
    auto client = std::move(idle_.back());
    idle_.pop_back();
    if (!client->closedByPeer()) return client;
    --open_;
  }
  ++open_;
  lock.unlock();
  auto client = SignerClient::connect(path_, timeout_ms_);
  if (!client) {
    std::lock_guard relock(mutex_);
    --open_;
    cv_.notify_one();
    return std::move(client).error();
  }
  return std::make_unique<SignerClient>(std::move(client).value());
}

void SignerPool::observe(const Error* error, std::chrono::steady_clock::time_point started) {
  if (!metrics_) return;
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
  metrics_->signerCall(error ? errorName(error->code) : "ok", seconds.count());
}

void SignerPool::release(std::unique_ptr<SignerClient> client, bool broken) {
  std::lock_guard lock(mutex_);
  if (broken) --open_;
  else idle_.push_back(std::move(client));
  cv_.notify_one();
}

}  // namespace mpay::gateway
