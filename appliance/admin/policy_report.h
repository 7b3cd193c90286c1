// `mpay-admin policy check` and `policy explain`: both read policy/ through
// the same parsers the processes use at start.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"

namespace mpay::admin {

// A Markdown report of what each process may do: signer operations, system
// calls, files; and every key's attributes. Path rules are shown as written
// (config keys unresolved), so the report is the same for every appliance
// running the same policy.
Result<std::string> explainPolicy(const Config& config);

// Validates every policy file, then compares each platform key in the token
// with policy/keys. Returns the mismatches (empty: all agree). With
// `fingerprints`, one line per platform key ("<name> <kind> <hex>"): the
// same on every appliance that holds the same platform.
// A key whose fingerprint cannot be read shows this word instead.
inline constexpr char kUnknownFingerprint[] = "unknown";
Result<std::vector<std::string>> checkPolicy(const Config& config, std::vector<std::string>* fingerprints = nullptr);

}  // namespace mpay::admin
