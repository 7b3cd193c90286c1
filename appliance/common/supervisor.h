// Keeps child processes running: starts each, restarts one that exits with
// exponential backoff (250 ms by default, doubling while the child keeps dying
// within 5 s of its start, up to 5 s or the first delay if larger; SIGHUP
// restarts the waiting ones at once), and on SIGTERM or SIGINT stops them all
// (SIGTERM in reverse order, SIGKILL after 3.5 s) and returns. Used by the
// signer for its workers and by mpayd.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace mpay {

struct SupervisedChild {
  std::string name;
  // Forks and returns the child's pid (or -1). In the child, call
  // Supervisor::inChild(parent) first.
  std::function<pid_t()> spawn;
};

class Supervisor {
 public:
  explicit Supervisor(std::vector<SupervisedChild> children, int first_backoff_ms = 250)
      : children_(std::move(children)), first_backoff_ms_(first_backoff_ms) {}
  int run();
  // In the forked child: restores the signal mask the supervisor blocked,
  // and ties the child's life to `parent` (SIGTERM when it dies), so that a
  // killed supervisor never leaves orphans behind. Call it after any change
  // of identity: the kernel clears the parent-death signal on one.
  static void inChild(pid_t parent);

 private:
  std::vector<SupervisedChild> children_;
  int first_backoff_ms_;
};

}  // namespace mpay
