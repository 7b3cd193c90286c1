// The floor: the same login and payment work as the end-to-end phases —
// the phone library on one side, the signer's handlers on a SoftHSM2 token
// on the other — in one process, with no HTTP, no socket, no database and no
// audit log. What the appliance adds above its cryptography is the distance
// from this floor (docs/operations.md, "Benchmarks").
#pragma once
#include <functional>

#include "bench/load.h"

namespace mpay::bench {

// A fresh token in a temporary directory (mpay-admin dev-setup, its key
// ceremony included), `options.phones` phones enrolled on it, then a login
// phase and a pay phase of `options.seconds` each on `options.threads`
// threads. Each report goes to `done` as its phase ends; false if the token
// could not be made.
bool runFloor(const LoadOptions& options, const std::function<void(const PhaseReport&)>& done);

}  // namespace mpay::bench
