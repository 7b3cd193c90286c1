// P-256 keys for suite mpay-v1. Only one curve exists here; a key of any
// other curve, a point off the curve, a compressed point or the point at
// infinity cannot be turned into an EcPublicKey (validating factories).
#pragma once
#include <functional>
#include <memory>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace mpay::suite {

inline constexpr std::size_t kPointLen = 65;    // 0x04 || X || Y
inline constexpr std::size_t kScalarLen = 32;
inline constexpr std::size_t kP1363SigLen = 64;  // r || s
inline constexpr std::size_t kMaxDerSigLen = 72;

using PkeyPtr = std::shared_ptr<EVP_PKEY>;

class EcPublicKey {
 public:
  // Uncompressed SEC1 point, 65 bytes, on P-256, not infinity.
  static Result<EcPublicKey> fromPoint(ByteView point);
  // DER SubjectPublicKeyInfo; must name P-256.
  static Result<EcPublicKey> fromSpki(ByteView der);
  static Result<EcPublicKey> fromPkey(EVP_PKEY* pkey);

  const Bytes& point() const { return point_; }
  EVP_PKEY* pkey() const { return pkey_.get(); }
  Bytes spkiDer() const;

  // SHA-256 then ECDSA. DER must be strict DER; P1363 is exactly r || s.
  bool verifyDer(ByteView message, ByteView der_signature) const;
  bool verifyP1363(ByteView message, ByteView raw_signature) const;

 private:
  EcPublicKey(PkeyPtr pkey, Bytes point) : pkey_(std::move(pkey)), point_(std::move(point)) {}
  PkeyPtr pkey_;
  Bytes point_;
};

// A private key held in memory: the phone's key, and the signer's ephemeral
// ECIES keys (never a long-term platform key: those live in the token).
class EcPrivateKey {
 public:
  // From a 32-byte big-endian scalar in [1, n-1]; anything else is refused.
  static Result<EcPrivateKey> fromScalar(const Secret& scalar);
  // Draws scalars from `random` until one is in range.
  static Result<EcPrivateKey> generate(const std::function<Result<Secret>(std::size_t)>& random);
  static Result<EcPrivateKey> fromPkey(EVP_PKEY* pkey);

  const EcPublicKey& publicKey() const { return public_; }
  EVP_PKEY* pkey() const { return pkey_.get(); }
  Result<Bytes> signDer(ByteView message) const;
  // ECDSA over a SHA-256 digest already computed (certificate issuance), as r || s.
  Result<Bytes> signDigestP1363(ByteView digest) const;
  // ECDH: the X coordinate of the shared point.
  Result<Secret> ecdh(const EcPublicKey& peer) const;

 private:
  EcPrivateKey(PkeyPtr pkey, EcPublicKey pub) : pkey_(std::move(pkey)), public_(std::move(pub)) {}
  PkeyPtr pkey_;
  EcPublicKey public_;
};

Result<Bytes> p1363ToDer(ByteView raw_signature);
// The same r || s signature with s in the lower half of the group order
// (s > n/2 becomes n - s; both verify). mpay emits only low-S signatures,
// so a verifier that enforces low-S accepts every one.
Result<Bytes> lowS(ByteView raw_signature);
Result<Bytes> derToP1363(ByteView der_signature);

}  // namespace mpay::suite
