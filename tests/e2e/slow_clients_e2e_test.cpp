// Hostile connections cost the attacker, not the users: max_threads + 10
// connections trickling their headers or their body one byte at a time hold
// no worker; fresh clients are served within 1 s throughout; each trickled
// request is cut at the whole-request deadline and answered 408
// request_timeout; one address holds at most max_connections_per_source
// connections. Real processes and sockets.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/running_appliance.h"

namespace mpay {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 4;
constexpr int kDeadlineMs = 2000;

// A client socket from `source` (any 127/8 address) to the gateway.
int connectFrom(const std::string& source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  timeval tv{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `at_once`, then `slowly` one byte every `every`, and reads whatever
// comes back, until the gateway closes the connection or `stop` is set.
class Trickler {
 public:
  Trickler(int port, const std::string& at_once, std::string slowly, std::chrono::milliseconds every,
           const std::atomic<bool>& stop)
      : thread_([this, port, at_once, request = std::move(slowly), every, &stop] {
          int fd = connectFrom("127.0.0.1", port);
          if (fd < 0) return;
          if (!at_once.empty()) ::send(fd, at_once.data(), at_once.size(), MSG_NOSIGNAL);
          std::size_t sent = 0;
          auto next = Clock::now();
          while (!stop) {
            if (sent < request.size() && Clock::now() >= next) {
              if (::send(fd, request.data() + sent, 1, MSG_NOSIGNAL) != 1) break;
              ++sent;
              next += every;
            }
            char buf[512];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n == 0) break;
            if (n > 0) answer_.append(buf, static_cast<std::size_t>(n));
          }
          ::close(fd);
        }) {}
  ~Trickler() {
    if (thread_.joinable()) thread_.join();
  }
  void join() { thread_.join(); }
  const std::string& answer() const { return answer_; }

 private:
  std::string answer_;
  std::thread thread_;
};

struct Probe {
  int ok = 0, failed = 0;
  std::vector<double> ms;
  double p99() {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0 : ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
};

// Fresh requests, one after another, for `seconds`.
Probe probe(const test::RunningAppliance& app, int seconds) {
  Probe p;
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    const auto began = Clock::now();
    auto answer = app.get("/v1/platform");
    p.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - began).count());
    (answer.status == 200 ? p.ok : p.failed)++;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return p;
}

void attack(const std::string& at_once, const std::string& slowly, const char* what) {
  test::RunningAppliance app("gateway.max_threads = " + std::to_string(kWorkers) +
                             "\ngateway.request_timeout_ms = " + std::to_string(kDeadlineMs) +
                             "\ngateway.rate_per_source = 100000\n");
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Trickler>> tricklers;
  for (int i = 0; i < kWorkers + 10; ++i)
    tricklers.push_back(std::make_unique<Trickler>(app.port(), at_once, slowly, std::chrono::milliseconds(400), stop));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Probe p = probe(app, 3 * kDeadlineMs / 1000);  // through more than one deadline
  stop = true;
  for (auto& t : tricklers) t->join();
  EXPECT_EQ(p.failed, 0) << what;
  EXPECT_GT(p.ok, 20) << what;
  EXPECT_LT(p.p99(), 1000.0) << what << ": p99 of fresh requests under attack";
  int timed_out = 0;
  for (auto& t : tricklers) timed_out += t->answer().find("request_timeout") != std::string::npos;
  EXPECT_EQ(timed_out, kWorkers + 10) << what << ": " << tricklers.front()->answer();
  const std::string& answer = tricklers.front()->answer();
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_TRUE(std::regex_search(answer, std::regex("\r\nConnection: close\r\n", std::regex::icase))) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "one answer only:\n" << answer;
}

TEST(SlowClientsE2E, TrickledHeadersHoldNoWorkerAndAreCutAtTheDeadline) {
  attack("", "GET /v1/platform HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n", "headers");
}

TEST(SlowClientsE2E, TrickledBodiesHoldNoWorkerAndAreCutAtTheDeadline) {
  attack("POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n",
         std::string(300, ' '), "body");
}

TEST(SlowClientsE2E, OneAddressHoldsAtMostItsShareOfConnections) {
  test::RunningAppliance app("gateway.max_connections_per_source = 3\n");
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(connectFrom("127.0.0.2", app.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int extra = connectFrom("127.0.0.2", app.port());
  ASSERT_GE(extra, 0);
  std::string answer;
  char buf[1024];
  for (int i = 0; i < 25 && answer.find("\r\n\r\n{") == std::string::npos; ++i) {
    ssize_t n = ::recv(extra, buf, sizeof buf, 0);
    if (n > 0) answer.append(buf, static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  EXPECT_NE(answer.find("503"), std::string::npos) << answer;
  EXPECT_NE(answer.find("overloaded"), std::string::npos) << answer;
  // Another address is served meanwhile.
  EXPECT_EQ(app.get("/healthz").status, 200);
  for (int fd : held) ::close(fd);
  ::close(extra);
}

}  // namespace
}  // namespace mpay
