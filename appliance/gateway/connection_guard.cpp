#include "gateway/connection_guard.h"

#include <sys/socket.h>

namespace mpay::gateway {

ConnectionGuard::ConnectionGuard(int request_timeout_ms, int max_per_source, int workers)
    : request_timeout_(request_timeout_ms), max_per_source_(max_per_source), workers_(workers) {
  watchdog_ = std::thread([this] { watch(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watchdog_.join();
}

// Every 50 ms: cut the reading side of each connection past its deadline. The
// socket stays registered (and so open) until its Entry is gone, so the
// descriptor cut is always the connection's own.
void ConnectionGuard::watch() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(50));
    const auto now = Clock::now();
    for (auto& [fd, w] : connections_) {
      if (w.timed_out || now < w.deadline) continue;
      w.timed_out = true;
      ::shutdown(fd, SHUT_RD);
    }
  }
}

void ConnectionGuard::cutAll() {
  std::lock_guard lock(mutex_);
  for (auto& [fd, w] : connections_) {
    w.timed_out = true;
    ::shutdown(fd, SHUT_RDWR);
  }
}

ConnectionGuard::Entry::Entry(ConnectionGuard& guard, int fd, std::string source)
    : guard_(guard), fd_(fd), source_(std::move(source)) {
  std::lock_guard lock(guard_.mutex_);
  int& open = guard_.per_source_[source_];
  if (guard_.max_per_source_ > 0 && open >= guard_.max_per_source_) {
    if (open == 0) guard_.per_source_.erase(source_);
    return;
  }
  ++open;
  admitted_ = true;
  guard_.connections_[fd_] = Watched{Clock::now() + guard_.request_timeout_, false};
}

ConnectionGuard::Entry::~Entry() {
  if (!admitted_) return;
  std::lock_guard lock(guard_.mutex_);
  guard_.connections_.erase(fd_);
  if (--guard_.per_source_[source_] == 0) guard_.per_source_.erase(source_);
}

void ConnectionGuard::Entry::awaitRequest() {
  std::lock_guard lock(guard_.mutex_);
  auto& w = guard_.connections_[fd_];
  if (!w.timed_out) w.deadline = Clock::now() + guard_.request_timeout_;
}

void ConnectionGuard::Entry::requestIn() {
  std::lock_guard lock(guard_.mutex_);
  guard_.connections_[fd_].deadline = Clock::time_point::max();
}

bool ConnectionGuard::Entry::timedOut() const {
  std::lock_guard lock(guard_.mutex_);
  auto it = guard_.connections_.find(fd_);
  return it != guard_.connections_.end() && it->second.timed_out;
}

}  // namespace mpay::gateway
