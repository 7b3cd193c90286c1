// Keeps child processes running: starts each, restarts one that exits with
// exponential backoff (250 ms by default, doubling to 30 s; reset after a
// minute of uptime), and on SIGTERM or SIGINT stops them all (SIGTERM, reverse order)
// and returns. Used by the signer for its workers and by mpayd.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace mpay {

struct SupervisedChild {
  std::string name;
  // Forks and returns the child's pid (or -1). In the child, call
  // Supervisor::inChild() first.
  std::function<pid_t()> spawn;
};

class Supervisor {
 public:
  explicit Supervisor(std::vector<SupervisedChild> children, int first_backoff_ms = 250)
      : children_(std::move(children)), first_backoff_ms_(first_backoff_ms) {}
  int run();
  // Restores the signal mask the supervisor blocked (for the forked child).
  static void inChild();

 private:
  std::vector<SupervisedChild> children_;
  int first_backoff_ms_;
};

}  // namespace mpay
