// Building blocks the handlers share; each runs on one lane.
#pragma once
#include <string>
#include <string_view>

#include "hsm/lane.h"
#include "hsm/token.h"
#include "suite/ec.h"

namespace mpay::signer {

// ECIES open with ECDH against the service key inside the token. Sealed
// boxes name no key: during a rotation the current generation is tried
// first, then the next (made, not yet announced) and the previous (until its
// overlap ends); only a box that opens under none is refused.
Result<Secret> openSealedToService(const hsm::Lane& lane, std::uint64_t now, std::string_view label, ByteView sealed);
// HMAC under the verifier key of `generation` over verifierInput(label,
// phone, user_key, salt, secret); bad_field if the lane has no such generation.
Result<Bytes> computeVerifier(const hsm::Lane& lane, std::uint64_t generation, std::string_view label,
                              std::string_view phone, ByteView user_key, ByteView salt, const Secret& secret);
// `n` decimal digits, uniformly distributed, from the token's RNG.
Result<std::string> randomDigits(const hsm::Lane& lane, std::size_t n);
// An ephemeral ECIES key whose scalar comes from the token's RNG.
Result<suite::EcPrivateKey> ephemeralKey(const hsm::Lane& lane);
Result<Bytes> randomBytes(const hsm::Lane& lane, std::size_t n);

}  // namespace mpay::signer
