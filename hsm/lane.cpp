#include "hsm/lane.h"

#include <openssl/evp.h>

#include "hsm/keygen.h"
#include "suite/primitives.h"

namespace mpay::hsm {
namespace {

Result<CK_OBJECT_HANDLE> sessionCopy(const Session& s, const KeyTemplate& t) {
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE token_key, s.findOne(keyClass(t), t.label));
  return s.copyToSession(token_key);
}

// PKCS#11 modules (SoftHSM2 among them) refuse a NULL pointer even with
// length 0; empty inputs get a pointer to this byte instead.
CK_BYTE_PTR inputPtr(ByteView data) {
  static CK_BYTE empty = 0;
  return data.empty() ? &empty : const_cast<CK_BYTE_PTR>(data.data());
}

// CK_GCM_PARAMS for suite mpay-v1: 96-bit IV, 128-bit tag. The structure
// points into `iv` and `aad`, which must outlive the operation.
CK_GCM_PARAMS gcmParams(ByteView iv, ByteView aad) {
  CK_GCM_PARAMS params{};
  params.pIv = const_cast<CK_BYTE_PTR>(iv.data());
  params.ulIvLen = suite::kGcmIvLen;
  params.ulIvBits = suite::kGcmIvLen * 8;
  params.pAAD = inputPtr(aad);
  params.ulAADLen = aad.size();
  params.ulTagBits = suite::kGcmTagLen * 8;
  return params;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// RFC 5649 unwrap in memory (the signer knows the one-time key).
Result<Secret> aesKeyUnwrapPad(const Secret& kek, ByteView wrapped) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return fail(ErrorCode::kInternal, "openssl: cipher ctx");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  Secret out(wrapped.size());
  int len = 0, fin = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, kek.exposeSecret().data(), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.exposeSecretMutable().data(), &len, wrapped.data(),
                        static_cast<int>(wrapped.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.exposeSecretMutable().data() + len, &fin) != 1)
    return fail(ErrorCode::kInternal, "AES key unwrap of the user key failed");
  Secret exact = Secret::copyOf(out.exposeSecret().first(static_cast<std::size_t>(len + fin)));
  return exact;
}

// Session copies of a secret key's generations, current first. As for the
// service key, a next or previous generation that is gone (a retire
// destroyed it) is skipped; only "not there" is.
Result<std::vector<KeyGeneration>> secretKeyGenerations(const Session& s, const KeyPolicy& policy,
                                                        const std::string& kind, const KeyGenerations& generations) {
  std::vector<KeyGeneration> out;
  for (std::uint32_t g : generations.onToken()) {
    const KeyTemplate t = policy.generation(kind, g);
    if (g != generations.current) {
      MPAY_ASSIGN_OR_RETURN(bool there, s.exists(keyClass(t), t.label));
      if (!there) continue;
    }
    KeyGeneration key;
    key.generation = g;
    MPAY_ASSIGN_OR_RETURN(key.handle, sessionCopy(s, t));
    out.push_back(key);
  }
  return out;
}

Result<CK_OBJECT_HANDLE> generationOf(const std::vector<KeyGeneration>& keys, const std::string& kind,
                                      std::uint32_t g) {
  for (const KeyGeneration& key : keys)
    if (key.generation == g) return key.handle;
  return fail(ErrorCode::kBadField, kind + " key generation " + std::to_string(g) + " is not in use on this token");
}

}  // namespace

Result<std::unique_ptr<Lane>> Lane::open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, const Secret& pin,
                                         const KeyPolicy& policy, const RotationState& rotation) {
  MPAY_ASSIGN_OR_RETURN(Session s, Session::open(fn, slot));
  MPAY_RETURN_IF_ERROR(s.loginUser(pin));
  std::vector<ServiceKey> service_keys;
  for (std::uint32_t g : rotation.service.onToken()) {
    const KeyTemplate t = policy.generation("service", g);
    ServiceKey key;
    key.generation = g;
    key.accepted_until = g == rotation.service.previous ? rotation.service.previous_until : 0;
    // The current generation is required; a next or previous one that is
    // gone (a retire that has destroyed it) only narrows what opens. Any
    // other failure is the token's, and fails the lane as usual.
    if (g != rotation.service.current) {
      MPAY_ASSIGN_OR_RETURN(bool there, s.exists(keyClass(t), t.label));
      if (!there) continue;
    }
    MPAY_ASSIGN_OR_RETURN(key.handle, sessionCopy(s, t));
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub, s.findOne(CKO_PUBLIC_KEY, t.label));
    MPAY_ASSIGN_OR_RETURN(Bytes attr, s.attributeBytes(pub, CKA_EC_POINT));
    MPAY_ASSIGN_OR_RETURN(key.point, ecPointFromAttribute(attr));
    service_keys.push_back(std::move(key));
  }
  PlatformKeys k;
  k.service = service_keys.front().handle;
  const KeyTemplate ca = policy.generation("ca", rotation.ca.current);
  MPAY_ASSIGN_OR_RETURN(k.ca, sessionCopy(s, ca));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_cert, s.findOne(CKO_CERTIFICATE, ca.label));
  MPAY_ASSIGN_OR_RETURN(Bytes ca_der, s.attributeBytes(ca_cert, CKA_VALUE));
  const KeyTemplate receipt = policy.generation("receipt", rotation.receipt.current);
  MPAY_ASSIGN_OR_RETURN(k.receipt, sessionCopy(s, receipt));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE receipt_public, s.findOne(CKO_PUBLIC_KEY, receipt.label));
  MPAY_ASSIGN_OR_RETURN(Bytes receipt_attr, s.attributeBytes(receipt_public, CKA_EC_POINT));
  MPAY_ASSIGN_OR_RETURN(Bytes receipt_point, ecPointFromAttribute(receipt_attr));
  MPAY_ASSIGN_OR_RETURN(suite::EcPublicKey receipt_key, suite::EcPublicKey::fromPoint(receipt_point));
  MPAY_ASSIGN_OR_RETURN(auto kek_keys, secretKeyGenerations(s, policy, "kek", rotation.kek));
  k.kek = kek_keys.front().handle;
  MPAY_ASSIGN_OR_RETURN(auto verifier_keys, secretKeyGenerations(s, policy, "verifier", rotation.verifier));
  k.verifier = verifier_keys.front().handle;
  MPAY_ASSIGN_OR_RETURN(k.permit, sessionCopy(s, policy.key("permit")));
  MPAY_ASSIGN_OR_RETURN(k.audit, sessionCopy(s, policy.key("audit")));
  return std::unique_ptr<Lane>(
      new Lane(std::move(s), k, std::move(service_keys), std::move(verifier_keys), std::move(kek_keys),
               std::move(receipt_key), std::move(ca_der), policy.key("ecdh-secret")));
}

Result<CK_OBJECT_HANDLE> Lane::verifierKey(std::uint32_t g) const { return generationOf(verifier_keys_, "verifier", g); }

Result<CK_OBJECT_HANDLE> Lane::kekKey(std::uint32_t g) const { return generationOf(kek_keys_, "kek", g); }

void Lane::abandon() {
  // After C_Initialize the same handle number may belong to a live session
  // of another lane: forget it instead of closing it.
  session_.forget();
}

Result<Secret> Lane::random(std::size_t n) const {
  Secret out(n);
  CK_RV rv = session_.fn()->C_GenerateRandom(session_.handle(), out.exposeSecretMutable().data(), n);
  if (rv != CKR_OK) return ckError(rv, "C_GenerateRandom");
  return out;
}

Result<Secret> ecdhDerive(const Session& session, CK_OBJECT_HANDLE private_key, const suite::EcPublicKey& peer,
                          const KeyTemplate& secret) {
  // Non-sensitive and extractable (policy/keys, ecdh-secret) so the signer
  // can read Z for HKDF (SoftHSM2 has no HKDF); it exists only until the
  // guard below destroys it.
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE derived, deriveEcdhSecret(session, private_key, peer.point(), secret));
  ObjectGuard guard(session, derived);
  Secret z(suite::kScalarLen);
  CK_ATTRIBUTE value = {CKA_VALUE, z.exposeSecretMutable().data(), z.size()};
  const CK_RV rv = session.fn()->C_GetAttributeValue(session.handle(), derived, &value, 1);
  if (rv != CKR_OK || value.ulValueLen != suite::kScalarLen) return ckError(rv, "read ECDH secret");
  return z;
}

Result<Bytes> ecdsaSignDigest(const Session& session, CK_OBJECT_HANDLE key, ByteView digest) {
  if (digest.size() != 32) return fail(ErrorCode::kInternal, "digest must be SHA-256");
  CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
  CK_RV rv = session.fn()->C_SignInit(session.handle(), &mech, key);
  if (rv != CKR_OK) return ckError(rv, "C_SignInit ECDSA");
  Bytes sig(suite::kP1363SigLen);
  CK_ULONG len = sig.size();
  rv = session.fn()->C_Sign(session.handle(), const_cast<std::uint8_t*>(digest.data()), digest.size(), sig.data(),
                            &len);
  if (rv != CKR_OK || len != suite::kP1363SigLen) return ckError(rv, "C_Sign ECDSA");
  return sig;
}

Result<Bytes> hmacSha256(const Session& session, CK_OBJECT_HANDLE key, ByteView data) {
  CK_MECHANISM mech = {CKM_SHA256_HMAC, nullptr, 0};
  CK_RV rv = session.fn()->C_SignInit(session.handle(), &mech, key);
  if (rv != CKR_OK) return ckError(rv, "C_SignInit HMAC");
  Bytes mac(suite::kHmacLen);
  CK_ULONG len = mac.size();
  rv = session.fn()->C_Sign(session.handle(), inputPtr(data), data.size(), mac.data(), &len);
  if (rv != CKR_OK || len != suite::kHmacLen) return ckError(rv, "C_Sign HMAC");
  return mac;
}

Result<Bytes> Lane::seal(CK_OBJECT_HANDLE key, ByteView aad, ByteView plaintext) const {
  MPAY_ASSIGN_OR_RETURN(Secret iv_secret, random(suite::kGcmIvLen));
  Bytes out(iv_secret.exposeSecret().begin(), iv_secret.exposeSecret().end());
  CK_GCM_PARAMS params = gcmParams(out, aad);
  CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof params};
  CK_RV rv = session_.fn()->C_EncryptInit(session_.handle(), &mech, key);
  if (rv != CKR_OK) return ckError(rv, "C_EncryptInit GCM");
  Bytes ct(plaintext.size() + suite::kGcmTagLen);
  CK_ULONG len = ct.size();
  rv = session_.fn()->C_Encrypt(session_.handle(), inputPtr(plaintext), plaintext.size(),
                                ct.data(), &len);
  if (rv != CKR_OK || len != ct.size()) return ckError(rv, "C_Encrypt GCM");
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<Secret> Lane::open(CK_OBJECT_HANDLE key, ByteView aad, ByteView sealed) const {
  if (sealed.size() < suite::kGcmIvLen + suite::kGcmTagLen)
    return fail(ErrorCode::kDecryptFailed, "sealed blob too short");
  CK_GCM_PARAMS params = gcmParams(sealed.first(suite::kGcmIvLen), aad);
  CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof params};
  CK_RV rv = session_.fn()->C_DecryptInit(session_.handle(), &mech, key);
  if (rv != CKR_OK) return ckError(rv, "C_DecryptInit GCM");
  ByteView ct = sealed.subspan(suite::kGcmIvLen);
  Secret out(ct.size());
  CK_ULONG len = out.size();
  rv = session_.fn()->C_Decrypt(session_.handle(), const_cast<std::uint8_t*>(ct.data()), ct.size(),
                                out.exposeSecretMutable().data(), &len);
  // SoftHSM2 2.6.1 reports a GCM tag mismatch as CKR_GENERAL_ERROR; the
  // standard code is CKR_ENCRYPTED_DATA_INVALID. Both mean "does not open".
  if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR)
    return fail(ErrorCode::kDecryptFailed, "blob does not open under the KEK");
  if (rv != CKR_OK) return ckError(rv, "C_Decrypt GCM");
  return Secret::copyOf(out.exposeSecret().first(len));
}

Result<UserKeyPair> Lane::generateUserKeyPair(const KeyTemplate& user) const {
  MPAY_ASSIGN_OR_RETURN(KeyPairHandles h, generateKeyPair(session_, user));
  UserKeyPair pair;
  pair.private_key = std::make_unique<ObjectGuard>(session_, h.private_key);
  pair.public_key = std::make_unique<ObjectGuard>(session_, h.public_key);
  MPAY_ASSIGN_OR_RETURN(Bytes attr, session_.attributeBytes(h.public_key, CKA_EC_POINT));
  MPAY_ASSIGN_OR_RETURN(pair.point, ecPointFromAttribute(attr));
  return pair;
}

Result<Secret> Lane::exportPrivateKey(CK_OBJECT_HANDLE private_key, const KeyTemplate& wrap_once) const {
  MPAY_ASSIGN_OR_RETURN(Secret one_time, random(32));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrap_key, createSecretKey(session_, wrap_once, one_time));
  ObjectGuard guard(session_, wrap_key);
  CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG len = 0;
  CK_RV rv = session_.fn()->C_WrapKey(session_.handle(), &mech, wrap_key, private_key, nullptr, &len);
  if (rv != CKR_OK) return ckError(rv, "C_WrapKey (size)");
  Bytes wrapped(len);
  rv = session_.fn()->C_WrapKey(session_.handle(), &mech, wrap_key, private_key, wrapped.data(), &len);
  if (rv != CKR_OK) return ckError(rv, "C_WrapKey");
  wrapped.resize(len);
  return aesKeyUnwrapPad(one_time, wrapped);
}

}  // namespace mpay::hsm
