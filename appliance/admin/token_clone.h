// `mpay-admin token clone --from FIRST.ini --config SECOND.ini`: a second
// appliance's SoftHSM2 token made from the first one's, for development and
// tests (docs/operations.md, "A cluster"). A bank's HSMs copy keys between
// HSMs of one security domain with the vendor's own backup or cloning; this
// command refuses any module but SoftHSM2.
#pragma once
#include <string>

#include "common/config.h"

namespace mpay::admin {

// Copies the first appliance's token directory (the token that hsm.token_uri
// names; encrypted under its PIN) into the second's hsm.token_dir, which
// must hold no token of that label, and the PIN into the second's
// hsm.pin_file; then exports the second's public parts from its own token
// (as `init` does on a whole platform) and compares every platform key's
// fingerprint on both. Returns what it did, fingerprints included.
Result<std::string> cloneSoftHsmToken(const Config& from, const Config& to);

}  // namespace mpay::admin
