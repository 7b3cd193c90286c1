#include "common/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "common/log.h"

namespace mpay {
namespace {

sigset_t supervisedSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGHUP);
  return mask;
}

// A child that keeps failing is tried again at least this often: a repaired
// cause (a token back, a policy file mended) is noticed within seconds.
constexpr int kMaxBackoffMs = 5000;

struct Slot {
  pid_t pid = -1;
  int failures = 0;
  std::chrono::steady_clock::time_point started, restart_at;
};

// SIGTERM to every child (the last started first), a few seconds for them to
// finish, then SIGKILL for any that did not: a stopping supervisor never
// waits on a child that hangs.
void stopAll(std::vector<Slot>& slots) {
  for (auto it = slots.rbegin(); it != slots.rend(); ++it)
    if (it->pid > 0) kill(it->pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  auto running = [&] {
    return std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.pid > 0; });
  };
  while (running() && std::chrono::steady_clock::now() < deadline) {
    for (Slot& slot : slots)
      if (slot.pid > 0 && waitpid(slot.pid, nullptr, WNOHANG) == slot.pid) slot.pid = -1;
    if (running()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (Slot& slot : slots) {
    if (slot.pid <= 0) continue;
    log::warn("event=child_killed pid=" + std::to_string(slot.pid) + " reason=no_exit_after_sigterm");
    kill(slot.pid, SIGKILL);
    waitpid(slot.pid, nullptr, 0);
    slot.pid = -1;
  }
}

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
    if (sig == SIGHUP) {  // the operator repaired the cause: restart whatever waits, now
      for (Slot& slot : slots) {
        slot.failures = 0;
        if (slot.pid < 0) slot.restart_at = now();
      }
      log::info("event=restart_now reason=SIGHUP");
    }
    int status = 0;
    pid_t dead;
    while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        Slot& slot = slots[i];
        if (slot.pid != dead) continue;
        // Only a child that dies within the longest backoff of its start is in
        // a crash loop; one that ran longer (killed while serving) comes back
        // after the first, short delay.
        slot.failures = now() - slot.started > std::chrono::milliseconds(kMaxBackoffMs) ? 1 : slot.failures + 1;
        const auto backoff = std::chrono::milliseconds(std::min(std::max(kMaxBackoffMs, first_backoff_ms_), first_backoff_ms_ << std::min(slot.failures - 1, 7)));
        slot.pid = -1;
        slot.restart_at = now() + backoff;
        log::warn("event=child_exited name=" + children_[i].name + " pid=" + std::to_string(dead) +
                  " status=" + std::to_string(status) +
                  (WIFSIGNALED(status) ? " signal=" + std::to_string(WTERMSIG(status)) +
                                             (WCOREDUMP(status) ? " core_dumped=yes" : " core_dumped=no")
                                       : "") +
                  " restart_in_ms=" + std::to_string(backoff.count()));
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
  stopAll(slots);
  return 0;
}

}  // namespace mpay
