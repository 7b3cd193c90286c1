// Who owns which file when the appliance runs with separated users. The
// token directory, the PIN file, the SoftHSM2 configuration and the audit
// log belong to the signer and nobody else; the SQLite database, the outbox,
// the TLS key and the webhook secret belong to the gateway; the socket
// directory belongs to the signer with the gateway's group (mode 2750, so
// the socket inherits the group and nobody else can reach it). Run as root
// by `mpay-admin init` (the ceremony may add token files) and by mpayd
// before it starts the children; idempotent.
#pragma once
#include "common/config.h"
#include "common/identity.h"

namespace mpay {

Status assignOwnership(const Config& config, const Account& signer, const Account& gateway);

// The directory that holds the signer's socket.
std::string socketDirectory(const Config& config);

}  // namespace mpay
