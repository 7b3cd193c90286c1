// `mpay-admin state new`: the signer's state file made deliberately, after
// one was lost or to change its capacities (docs/operations.md, "Signer
// state"). The signer makes it by itself only at its very first start.
#pragma once
#include <string>

#include "common/config.h"

namespace mpay::admin {

// Refuses when the file exists (move it aside first, with the signer
// stopped); as root, hands the new file to signer.user. Returns what it did.
Result<std::string> newSignerState(const Config& config);

}  // namespace mpay::admin
