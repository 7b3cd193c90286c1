// How many stored verifiers a verifier key generation made: the number that
// says when an old generation may be retired (docs/operations.md,
// "Rotating keys").
#pragma once
#include <cstdint>
#include <string>

namespace mpay::gateway {

struct VerifierCount {
  std::string which;  // "password" or "pin"
  std::int64_t generation = 0, count = 0;
};

}  // namespace mpay::gateway
