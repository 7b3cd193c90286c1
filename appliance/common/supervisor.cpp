#include "common/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace mpay {
namespace {

sigset_t supervisedSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGCHLD);
  return mask;
}

struct Slot {
  pid_t pid = -1;
  int failures = 0;
  std::chrono::steady_clock::time_point started, restart_at;
};

}  // namespace

void Supervisor::inChild(pid_t parent) {
  sigset_t mask = supervisedSignals();
  sigprocmask(SIG_UNBLOCK, &mask, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(0);  // the parent died before the line above
}

int Supervisor::run() {
  sigset_t mask = supervisedSignals();
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const auto now = std::chrono::steady_clock::now;
  std::vector<Slot> slots(children_.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].pid = children_[i].spawn();
    slots[i].started = now();
    log::info("event=child_started name=" + children_[i].name + " pid=" + std::to_string(slots[i].pid));
  }
  for (;;) {
    timespec tick{0, 200 * 1000 * 1000};
    siginfo_t info{};
    const int sig = sigtimedwait(&mask, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    int status = 0;
    pid_t dead;
    while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        Slot& slot = slots[i];
        if (slot.pid != dead) continue;
        slot.failures = now() - slot.started > std::chrono::seconds(60) ? 1 : slot.failures + 1;
        const auto backoff = std::chrono::milliseconds(std::min(30000, first_backoff_ms_ << std::min(slot.failures - 1, 7)));
        slot.pid = -1;
        slot.restart_at = now() + backoff;
        log::warn("event=child_exited name=" + children_[i].name + " pid=" + std::to_string(dead) +
                  " status=" + std::to_string(status) + " restart_in_ms=" + std::to_string(backoff.count()));
      }
    }
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].pid < 0 && now() >= slots[i].restart_at) {
        slots[i].pid = children_[i].spawn();
        slots[i].started = now();
        log::info("event=child_restarted name=" + children_[i].name + " pid=" + std::to_string(slots[i].pid));
      }
    }
  }
  for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
    if (it->pid <= 0) continue;
    kill(it->pid, SIGTERM);
    waitpid(it->pid, nullptr, 0);
  }
  return 0;
}

}  // namespace mpay
