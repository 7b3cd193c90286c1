// ECIES of suite mpay-v1 (docs/protocol.md, "ECIES"):
//   Z        = X coordinate of ECDH(ephemeral, recipient)
//   key||iv  = HKDF-SHA256(ikm = Z, salt = E || R, info = label), 32 + 12 bytes
//   sealed   = E (65 bytes) || AES-256-GCM(key, iv, aad = label, plaintext) || tag
// E is the ephemeral public point, R the recipient's. The label names the
// message type, so a ciphertext made for one purpose never opens as another.
#pragma once
#include <functional>
#include <string_view>

#include "suite/ec.h"

namespace mpay::suite {

inline constexpr std::size_t kEciesOverhead = kPointLen + 16;

Result<Bytes> eciesSeal(const EcPublicKey& recipient, std::string_view label, ByteView plaintext,
                        const EcPrivateKey& ephemeral);

// The recipient side. `derive` computes Z from the validated ephemeral point:
// in the signer that is ECDH inside the token, on the phone it is in memory.
using EcdhFn = std::function<Result<Secret>(const EcPublicKey& ephemeral)>;
Result<Secret> eciesOpen(ByteView recipient_point, std::string_view label, ByteView sealed,
                         const EcdhFn& derive);

}  // namespace mpay::suite
