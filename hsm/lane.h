// A lane: one logged-in session and session copies of the platform keys,
// used by one thread at a time (SoftHSM2 wants one session per thread).
// These are the only token operations mpay performs.
#pragma once
#include "common/secret.h"
#include "hsm/key_policy.h"
#include "hsm/rotation.h"
#include "hsm/session.h"
#include "suite/ec.h"

namespace mpay::hsm {

// A generation of the service key as a lane holds it.
struct ServiceKey {
  std::uint32_t generation = 1;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;  // session copy
  Bytes point;                                  // uncompressed public point (ECIES binds it)
  std::uint64_t accepted_until = 0;             // unix seconds; 0: no end (current, next)
};

// A generation of a secret key (verifier, KEK) as a lane holds it.
struct KeyGeneration {
  std::uint32_t generation = 1;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;  // session copy
};

struct PlatformKeys {
  CK_OBJECT_HANDLE service = CK_INVALID_HANDLE;   // ECDH, the current generation
  CK_OBJECT_HANDLE ca = CK_INVALID_HANDLE;        // ECDSA, the current generation
  CK_OBJECT_HANDLE receipt = CK_INVALID_HANDLE;   // ECDSA
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;       // AES-GCM, the current generation
  CK_OBJECT_HANDLE verifier = CK_INVALID_HANDLE;  // HMAC-SHA256, the current generation
  CK_OBJECT_HANDLE permit = CK_INVALID_HANDLE;    // HMAC-SHA256
  CK_OBJECT_HANDLE audit = CK_INVALID_HANDLE;     // ECDSA (audit checkpoints)
};

// A per-registration user key pair; both halves are destroyed with it.
struct UserKeyPair {
  std::unique_ptr<ObjectGuard> private_key;
  std::unique_ptr<ObjectGuard> public_key;
  Bytes point;  // uncompressed public point
};

// CKM_ECDSA over a SHA-256 digest with any signing key; returns r || s.
Result<Bytes> ecdsaSignDigest(const Session& session, CK_OBJECT_HANDLE key, ByteView digest);
// ECDH with a validated peer point; the shared X coordinate is read out of a
// short-lived derived object that is destroyed before returning.
Result<Secret> ecdhDerive(const Session& session, CK_OBJECT_HANDLE private_key, const suite::EcPublicKey& peer,
                          const KeyTemplate& secret);
// CKM_SHA256_HMAC with a secret key object; the full 32-byte tag.
Result<Bytes> hmacSha256(const Session& session, CK_OBJECT_HANDLE key, ByteView data);

class Lane {
 public:
  // Opens a session, logs in, finds the platform keys (at the generations
  // `rotation` names) and copies them into the session.
  static Result<std::unique_ptr<Lane>> open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, const Secret& pin,
                                            const KeyPolicy& policy, const RotationState& rotation);

  const Session& session() const { return session_; }
  const PlatformKeys& keys() const { return keys_; }
  // Current first, then next and previous when the rotation state has them.
  const std::vector<ServiceKey>& serviceKeys() const { return service_keys_; }
  // The public half of keys().receipt (the generation this lane signs with):
  // every receipt is checked with it before it leaves the signer.
  const suite::EcPublicKey& receiptPublicKey() const { return receipt_public_; }
  // The certificate of keys().ca: what this lane issues under (DER).
  const Bytes& caCertificate() const { return ca_cert_; }
  // The generation new verifiers are made under (keys().verifier), and new
  // blobs sealed under (keys().kek).
  std::uint32_t verifierGeneration() const { return verifier_keys_.front().generation; }
  std::uint32_t kekGeneration() const { return kek_keys_.front().generation; }
  // The key of generation g: current, next or previous, if on the token.
  Result<CK_OBJECT_HANDLE> verifierKey(std::uint32_t g) const;
  Result<CK_OBJECT_HANDLE> kekKey(std::uint32_t g) const;
  // After a device reset the old handles mean nothing; never close them.
  void abandon();

  Result<Secret> random(std::size_t n) const;
  Result<Secret> ecdh(CK_OBJECT_HANDLE private_key, const suite::EcPublicKey& peer) const {
    return ecdhDerive(session_, private_key, peer, ecdh_secret_);
  }
  Result<Bytes> signDigest(CK_OBJECT_HANDLE key, ByteView digest) const {
    return ecdsaSignDigest(session_, key, digest);
  }
  Result<Bytes> hmac(CK_OBJECT_HANDLE key, ByteView data) const { return hmacSha256(session_, key, data); }
  // AES-GCM with a fresh IV from the token; returns iv || ciphertext || tag.
  Result<Bytes> seal(CK_OBJECT_HANDLE key, ByteView aad, ByteView plaintext) const;
  Result<Secret> open(CK_OBJECT_HANDLE key, ByteView aad, ByteView sealed) const;

  Result<UserKeyPair> generateUserKeyPair(const KeyTemplate& user) const;
  // C_WrapKey under a one-time AES key, unwrapped again here: the PKCS#8
  // bytes of the private key, in the signer's memory only.
  Result<Secret> exportPrivateKey(CK_OBJECT_HANDLE private_key, const KeyTemplate& wrap_once) const;

 private:
  Lane(Session session, PlatformKeys keys, std::vector<ServiceKey> service_keys,
       std::vector<KeyGeneration> verifier_keys, std::vector<KeyGeneration> kek_keys,
       suite::EcPublicKey receipt_public, Bytes ca_cert, KeyTemplate ecdh_secret)
      : session_(std::move(session)), keys_(keys), service_keys_(std::move(service_keys)),
        verifier_keys_(std::move(verifier_keys)), kek_keys_(std::move(kek_keys)),
        receipt_public_(std::move(receipt_public)), ca_cert_(std::move(ca_cert)),
        ecdh_secret_(std::move(ecdh_secret)) {}
  Session session_;
  PlatformKeys keys_;
  std::vector<ServiceKey> service_keys_;
  std::vector<KeyGeneration> verifier_keys_;  // current first
  std::vector<KeyGeneration> kek_keys_;       // current first
  suite::EcPublicKey receipt_public_;
  Bytes ca_cert_;
  KeyTemplate ecdh_secret_;
};

}  // namespace mpay::hsm
