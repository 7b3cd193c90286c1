// What a key generation still protects in the database: stored verifiers
// (verifier key) and sealed identity records and live session keys (KEK).
// A rotation's old generation is retired only at 0 (docs/operations.md,
// "Rotating keys").
#pragma once
#include <cstdint>
#include <string>

namespace mpay::gateway {

struct GenerationCount {
  std::string key;    // "verifier" or "kek"
  std::string which;  // verifier: "password" or "pin"; kek: "identity" or "session"
  std::int64_t generation = 0, count = 0;
};

}  // namespace mpay::gateway
