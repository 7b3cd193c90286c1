#include "sandbox/probes.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace mpay::sandbox {

SelfReport selfReport() {
  SelfReport r;
  std::thread([&r] { r.thread_started = true; }).join();
  r.clone3_errno = ::syscall(SYS_clone3, nullptr, 0) < 0 ? errno : 0;
  r.pid = static_cast<int>(getpid());
  return r;
}

void tryFork() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  if (child > 0) waitpid(child, nullptr, 0);
}

int tryConnectUnix(const std::string& name) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const bool abstract = !name.empty() && name[0] == '@';
  const std::size_t n = std::min(name.size(), sizeof addr.sun_path - 1);
  std::memcpy(addr.sun_path, name.data(), n);
  if (abstract) addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + (abstract ? 0 : 1));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = rc < 0 ? errno : 0;
  ::close(fd);
  return err;
}

}  // namespace mpay::sandbox
