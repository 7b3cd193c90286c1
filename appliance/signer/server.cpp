#include "signer/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "common/frame_io.h"
#include "common/log.h"

namespace mpay::signer {
namespace {
constexpr int kBacklog = 128;
}  // namespace

Result<int> bindUnixSocket(const std::string& path, unsigned mode) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return fail(ErrorCode::kConfig, "socket path too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::kIo, "socket() failed");
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      ::close(fd);
      return fail(ErrorCode::kConfig, "refusing to replace non-socket " + path);
    }
    ::unlink(path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::chmod(path.c_str(), mode) != 0 ||
      ::listen(fd, kBacklog) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return fail(ErrorCode::kIo, "cannot listen on " + path + ": " + why);
  }
  return fd;
}

void serveConnection(int fd, Dispatcher& dispatcher, const RoleMap& roles, std::uint32_t max_frame,
                     int idle_timeout_s) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ::close(fd);
    return;
  }
  const Caller caller{static_cast<long>(cred.uid), roles.rolesOf(static_cast<long>(cred.uid)),
                      static_cast<std::uint32_t>(cred.pid)};
  if (caller.roles == 0) {
    log::warn("event=connection_refused uid=" + std::to_string(cred.uid) + " pid=" + std::to_string(cred.pid));
    dispatcher.auditRefusedConnection(caller.uid, ErrorCode::kNotPermitted,
                                      "connection from a uid with no role (pid " + std::to_string(cred.pid) + ")");
    ::close(fd);
    return;
  }
  timeval idle{idle_timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  for (;;) {
    auto frame = readFrame(fd, max_frame);
    if (!frame) {
      if (frame.error().code == ErrorCode::kFrameTooLarge) {
        log::warn("event=frame_too_large uid=" + std::to_string(cred.uid) + " detail=\"" + frame.error().detail + "\"");
        dispatcher.auditRefusedConnection(caller.uid, ErrorCode::kFrameTooLarge, frame.error().detail);
        (void)writeAll(fd, wire::encodeResponse(ErrorCode::kFrameTooLarge, 0, {}));
      }
      break;  // the stream cannot be resynchronised after a bad length
    }
    if (!writeAll(fd, dispatcher.handle(frame.value(), caller)).ok()) break;
  }
  ::close(fd);
}

void serveForever(int listen_fd, Dispatcher& dispatcher, const RoleMap& roles, std::uint32_t max_frame, int threads,
                  int idle_timeout_s) {
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (;;) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
          return;  // listening socket closed
        }
        serveConnection(fd, dispatcher, roles, max_frame, idle_timeout_s);
      }
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace mpay::signer
