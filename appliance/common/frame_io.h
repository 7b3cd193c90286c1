// Length-prefixed frames over a stream socket (u32 big-endian length).
#pragma once
#include "common/bytes.h"
#include "common/result.h"

namespace mpay {

// Reads one frame body. kIo on EOF or a socket error (a clean EOF before the
// first byte says so in the detail), kFrameTooLarge if the prefix exceeds max.
Result<Bytes> readFrame(int fd, std::uint32_t max_body);
// Writes the whole buffer (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
Status writeAll(int fd, ByteView bytes);

inline constexpr char kCleanEof[] = "peer closed";

}  // namespace mpay
