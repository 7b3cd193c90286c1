#include "signer/signer_crypto.h"

#include "suite/ecies.h"
#include "suite/messages.h"

namespace mpay::signer {

Result<Secret> openSealedToService(const hsm::Lane& lane, std::uint64_t now, std::string_view label, ByteView sealed) {
  Error refused = fail(ErrorCode::kDecryptFailed, "no service key");
  for (const hsm::ServiceKey& key : lane.serviceKeys()) {
    if (key.accepted_until != 0 && now >= key.accepted_until) continue;
    auto opened = suite::eciesOpen(key.point, label, sealed, [&](const suite::EcPublicKey& ephemeral) {
      return lane.ecdh(key.handle, ephemeral);
    });
    if (opened.ok() || opened.error().code != ErrorCode::kDecryptFailed) return opened;
    refused = std::move(opened).error();
  }
  return refused;
}

Result<Bytes> computeVerifier(const hsm::Lane& lane, std::uint64_t generation, std::string_view label,
                              std::string_view phone, ByteView user_key, ByteView salt, const Secret& secret) {
  if (generation == 0 || generation > UINT32_MAX) return fail(ErrorCode::kBadField, "verifier generation");
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, lane.verifierKey(static_cast<std::uint32_t>(generation)));
  Secret input = suite::verifierInput(label, phone, user_key, salt, secret);
  return lane.hmac(key, input.exposeSecret());
}

Result<std::string> randomDigits(const hsm::Lane& lane, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    MPAY_ASSIGN_OR_RETURN(Secret bytes, lane.random(n));
    for (std::uint8_t b : bytes.exposeSecret()) {
      if (b >= 250) continue;  // rejection sampling: 250 = 25 * 10 keeps the digits uniform
      out.push_back(static_cast<char>('0' + b % 10));
      if (out.size() == n) break;
    }
  }
  return out;
}

Result<suite::EcPrivateKey> ephemeralKey(const hsm::Lane& lane) {
  return suite::EcPrivateKey::generate([&](std::size_t n) { return lane.random(n); });
}

Result<Bytes> randomBytes(const hsm::Lane& lane, std::size_t n) {
  MPAY_ASSIGN_OR_RETURN(Secret s, lane.random(n));
  return Bytes(s.exposeSecret().begin(), s.exposeSecret().end());
}

}  // namespace mpay::signer
