// The floor: the same login and payment work as the end-to-end phases —
// the phone library on one side, the signer's handlers on a SoftHSM2 token
// on the other — in one process, with no HTTP, no socket, no database and no
// audit log. What the appliance adds above its cryptography is the distance
// from this floor (docs/operations.md, "Benchmarks").
#pragma once
#include <functional>
#include <string>

#include "bench/load.h"

namespace mpay::bench {

// A fresh token in a temporary directory (mpay-admin dev-setup, its key
// ceremony included), `options.phones` phones enrolled on it, then a login
// phase and a pay phase of `options.seconds` each on `options.threads`
// threads. Each report goes to `done` as its phase ends; false if the token
// could not be made.
bool runFloor(const LoadOptions& options, const std::function<void(const PhaseReport&)>& done);

// The same phases ("enrol signer", "login signer", "pay signer") with the
// appliance's signer socket in place of the in-process handlers: the bench
// takes the gateway's role (its uid must be the gateway's). What the socket,
// the audit log and the signer's processes add to the floor. The acquirer's
// answers are signed with the key at `acquirer_key_path` (PEM).
bool runSignerSocket(const LoadOptions& options, const std::string& socket_path, const std::string& acquirer_key_path,
                     const std::function<void(const PhaseReport&)>& done);

}  // namespace mpay::bench
