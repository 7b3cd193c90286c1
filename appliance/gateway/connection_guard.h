// What keeps slow and greedy clients from starving the others
// (docs/operations.md, "Hostile connections"):
//  - every request, headers and body, must be in within
//    gateway.request_timeout_ms of the connection's accept or of its previous
//    answer; a watchdog shuts the reading side of a connection past that
//    deadline, however slowly its bytes trickle (Poco's own timeout is per
//    read), and the connection answers 408 request_timeout;
//  - at most gateway.max_connections_per_source connections from one address;
//  - the engine's work runs under gateway.max_threads permits, taken only once
//    a request is wholly in: a client that trickles holds one cheap
//    connection thread, never one of those.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>

namespace mpay::gateway {

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;

  ConnectionGuard(int request_timeout_ms, int max_per_source, int workers);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // One connection, for as long as it lives. False from admitted() when its
  // address already has max_per_source open (0: no cap).
  class Entry {
   public:
    Entry(ConnectionGuard& guard, int fd, std::string source);
    ~Entry();
    bool admitted() const { return admitted_; }
    // The next request must be wholly in within the request deadline from now.
    void awaitRequest();
    // The request is in: no deadline while it is worked on and answered.
    void requestIn();
    // The watchdog cut this connection's reading side at its deadline.
    bool timedOut() const;

   private:
    ConnectionGuard& guard_;
    int fd_;
    std::string source_;
    bool admitted_ = false;
  };

  // A permit to work on a request, waiting until `until` at most.
  bool acquireWorker(Clock::time_point until) { return workers_.try_acquire_until(until); }
  void releaseWorker() { workers_.release(); }
  std::chrono::milliseconds requestTimeout() const { return request_timeout_; }
  // Stopping: cut every connection's reading side so that their threads end.
  void cutAll();

 private:
  struct Watched {
    Clock::time_point deadline = Clock::time_point::max();
    bool timed_out = false;
  };
  void watch();

  const std::chrono::milliseconds request_timeout_;
  const int max_per_source_;
  std::counting_semaphore<65536> workers_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<int, Watched> connections_;  // by socket; removed before the socket is closed
  std::map<std::string, int> per_source_;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace mpay::gateway
