#include "common/frame_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace mpay {
namespace {

// 1: got all, 0: clean EOF before any byte, -1: error or EOF mid-way.
int readExactly(int fd, std::uint8_t* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r == 0) return got == 0 ? 0 : -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += static_cast<std::size_t>(r);
  }
  return 1;
}

}  // namespace

Result<Bytes> readFrame(int fd, std::uint32_t max_body) {
  std::uint8_t prefix[4];
  int r = readExactly(fd, prefix, sizeof prefix);
  if (r == 0) return fail(ErrorCode::kIo, kCleanEof);
  if (r < 0) return fail(ErrorCode::kIo, "truncated frame length");
  const std::uint32_t len = (std::uint32_t{prefix[0]} << 24) | (std::uint32_t{prefix[1]} << 16) |
                            (std::uint32_t{prefix[2]} << 8) | prefix[3];
  if (len > max_body) return fail(ErrorCode::kFrameTooLarge, "frame of " + std::to_string(len) + " bytes");
  Bytes body(len);
  if (len > 0 && readExactly(fd, body.data(), len) != 1) return fail(ErrorCode::kIo, "truncated frame body");
  return body;
}

Status writeAll(int fd, ByteView bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t w = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::kIo, "socket write failed");
    }
    sent += static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace mpay
