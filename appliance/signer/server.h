// The signer's socket: a Unix stream socket (mode 0660) bound by the parent
// before it forks; each worker runs a few threads that accept on it and
// serve one connection at a time. The caller's uid comes from SO_PEERCRED.
#pragma once
#include <string>

#include "signer/dispatcher.h"

namespace mpay::signer {

struct RoleMap {
  long gateway_uid = -1;
  long admin_uid = -1;
  std::uint8_t rolesOf(long uid) const {
    std::uint8_t roles = 0;
    if (uid == gateway_uid) roles |= kRoleGateway;
    if (uid == admin_uid) roles |= kRoleAdmin;
    return roles;
  }
};

// Removes a stale socket file, binds, sets the mode, listens.
Result<int> bindUnixSocket(const std::string& path, unsigned mode);

// Serves frames on one accepted connection until the peer closes, a frame is
// truncated or oversized, or the connection idles past `idle_timeout_s`.
void serveConnection(int fd, Dispatcher& dispatcher, const RoleMap& roles, std::uint32_t max_frame,
                     int idle_timeout_s);

// Runs `threads` accept loops on `listen_fd`; returns when the socket is closed.
void serveForever(int listen_fd, Dispatcher& dispatcher, const RoleMap& roles, std::uint32_t max_frame, int threads,
                  int idle_timeout_s);

}  // namespace mpay::signer
