#include "suite/ec.h"

#include "suite/openssl_ptr.h"
#include "suite/primitives.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <cstring>

namespace mpay::suite {
namespace {

constexpr char kGroupName[] = "prime256v1";

PkeyPtr share(EVP_PKEY* p) { return PkeyPtr(p, EVP_PKEY_free); }

bool isP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
    return false;
  return std::strcmp(name, kGroupName) == 0;
}

Result<Bytes> uncompressedPoint(EVP_PKEY* pkey) {
  Bytes point(kPointLen);
  std::size_t len = 0;
  // Ask for uncompressed output explicitly; the key may remember another form.
  char form[] = "uncompressed";
  OSSL_PARAM set[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form, 0),
                      OSSL_PARAM_construct_end()};
  EVP_PKEY_set_params(pkey, set);
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len) != 1 ||
      len != kPointLen || point[0] != 0x04)
    return fail(ErrorCode::kBadField, "public key has no uncompressed P-256 point");
  return point;
}

bool verifyWith(EVP_PKEY* pkey, ByteView message, ByteView der) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, algorithms().sha256, nullptr, pkey) == 1 &&
         EVP_DigestVerify(ctx.get(), der.data(), der.size(), message.data(), message.size()) == 1;
}

}  // namespace

Result<EcPublicKey> EcPublicKey::fromPoint(ByteView point) {
  if (point.size() != kPointLen || point[0] != 0x04)
    return fail(ErrorCode::kBadField, "EC point must be 65-byte uncompressed");
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* raw = nullptr;
  // fromdata decodes the point and refuses one that is not on the curve.
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1)
    return fail(ErrorCode::kBadField, "EC point is not on P-256");
  PkeyPtr pkey = share(raw);
  ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return fail(ErrorCode::kBadField, "EC point fails the public key check");
  return EcPublicKey(std::move(pkey), Bytes(point.begin(), point.end()));
}

Result<EcPublicKey> EcPublicKey::fromSpki(ByteView der) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509_PUBKEY, decltype(&X509_PUBKEY_free)> spki(
      d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(der.size())), X509_PUBKEY_free);
  if (!spki || p != der.data() + der.size()) return fail(ErrorCode::kBadField, "not a DER SubjectPublicKeyInfo");
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* point = nullptr;
  int point_len = 0;
  X509_ALGOR* params = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &point, &point_len, &params, spki.get()) != 1 ||
      OBJ_obj2nid(algorithm) != NID_X9_62_id_ecPublicKey)
    return fail(ErrorCode::kBadField, "not an EC public key");
  int param_type = 0;
  const void* param_value = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param_value, params);
  // Named curve P-256 only: explicit parameters could describe any curve.
  if (param_type != V_ASN1_OBJECT ||
      OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param_value)) != NID_X9_62_prime256v1)
    return fail(ErrorCode::kBadField, "SPKI must name the curve P-256");
  // The point exactly as encoded, through the one validating path.
  return fromPoint(ByteView(point, static_cast<std::size_t>(point_len)));
}

Result<EcPublicKey> EcPublicKey::fromPkey(EVP_PKEY* pkey) {
  if (!isP256(pkey)) return fail(ErrorCode::kBadField, "key is not on P-256");
  MPAY_ASSIGN_OR_RETURN(Bytes point, uncompressedPoint(pkey));
  return fromPoint(point);  // re-import: the same validation on every path
}

Bytes EcPublicKey::spkiDer() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &der);
  Bytes out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

bool EcPublicKey::verifyDer(ByteView message, ByteView der_signature) const {
  if (der_signature.empty() || der_signature.size() > kMaxDerSigLen) return false;
  // OpenSSL 3 re-encodes the parsed signature and compares it with the input,
  // so BER and other non-canonical encodings are refused.
  return verifyWith(pkey_.get(), message, der_signature);
}

bool EcPublicKey::verifyP1363(ByteView message, ByteView raw_signature) const {
  auto der = p1363ToDer(raw_signature);
  return der.ok() && verifyWith(pkey_.get(), message, der.value());
}

Result<EcPrivateKey> EcPrivateKey::fromScalar(const Secret& scalar) {
  if (scalar.size() != kScalarLen) return fail(ErrorCode::kBadField, "scalar must be 32 bytes");
  ossl::GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  ossl::BnPtr d(
      BN_bin2bn(scalar.exposeSecret().data(), static_cast<int>(kScalarLen), nullptr));
  if (!group || !d) return fail(ErrorCode::kInternal, "openssl: EC setup");
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0)
    return fail(ErrorCode::kBadField, "scalar out of range");
  ossl::PointPtr q(EC_POINT_new(group.get()));
  Bytes point(kPointLen);
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(),
                         nullptr) != kPointLen)
    return fail(ErrorCode::kInternal, "openssl: EC point multiply");
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return fail(ErrorCode::kInternal, "openssl: param build");
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1)
    return fail(ErrorCode::kInternal, "openssl: EC key import");
  PkeyPtr pkey = share(raw);
  MPAY_ASSIGN_OR_RETURN(EcPublicKey pub, EcPublicKey::fromPoint(point));
  return EcPrivateKey(std::move(pkey), std::move(pub));
}

Result<EcPrivateKey> EcPrivateKey::generate(const std::function<Result<Secret>(std::size_t)>& random) {
  // The chance that 32 random bytes are >= n is about 2^-32; a few tries suffice.
  for (int attempt = 0; attempt < 8; ++attempt) {
    MPAY_ASSIGN_OR_RETURN(Secret scalar, random(kScalarLen));
    auto key = fromScalar(scalar);
    if (key.ok() || key.error().code != ErrorCode::kBadField) return key;
  }
  return fail(ErrorCode::kInternal, "random source keeps producing out-of-range scalars");
}

Result<EcPrivateKey> EcPrivateKey::fromPkey(EVP_PKEY* pkey) {
  MPAY_ASSIGN_OR_RETURN(EcPublicKey pub, EcPublicKey::fromPkey(pkey));
  EVP_PKEY_up_ref(pkey);
  return EcPrivateKey(share(pkey), std::move(pub));
}

Result<Bytes> EcPrivateKey::signDer(ByteView message) const {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = kMaxDerSigLen;
  Bytes sig(len);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, algorithms().sha256, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
    return fail(ErrorCode::kInternal, "openssl: ECDSA sign");
  sig.resize(len);
  return sig;
}

Result<Bytes> EcPrivateKey::signDigestP1363(ByteView digest) const {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  std::size_t len = kMaxDerSigLen;
  Bytes sig(len);
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1)
    return fail(ErrorCode::kInternal, "openssl: ECDSA sign digest");
  sig.resize(len);
  return derToP1363(sig);
}

Result<Secret> EcPrivateKey::ecdh(const EcPublicKey& peer) const {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  std::size_t len = kScalarLen;
  Secret z(kScalarLen);
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.pkey()) != 1 ||
      EVP_PKEY_derive(ctx.get(), z.exposeSecretMutable().data(), &len) != 1 || len != kScalarLen)
    return fail(ErrorCode::kInternal, "openssl: ECDH");
  return z;
}

Result<Bytes> p1363ToDer(ByteView raw) {
  if (raw.size() != kP1363SigLen) return fail(ErrorCode::kBadField, "P1363 signature must be 64 bytes");
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return fail(ErrorCode::kInternal, "openssl: ECDSA_SIG");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return fail(ErrorCode::kInternal, "openssl: ECDSA_SIG encode");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<Bytes> lowS(ByteView raw) {
  if (raw.size() != kP1363SigLen) return fail(ErrorCode::kBadField, "P1363 signature must be 64 bytes");
  ossl::GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  ossl::BnPtr s(BN_bin2bn(raw.data() + 32, 32, nullptr)), half(BN_new());
  if (!group || !s || !half) return fail(ErrorCode::kInternal, "openssl: low-S");
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  if (BN_rshift1(half.get(), order) != 1) return fail(ErrorCode::kInternal, "openssl: low-S");
  Bytes out(raw.begin(), raw.end());
  if (BN_cmp(s.get(), half.get()) <= 0) return out;
  if (BN_sub(s.get(), order, s.get()) != 1 || BN_bn2binpad(s.get(), out.data() + 32, 32) != 32)
    return fail(ErrorCode::kInternal, "openssl: low-S");
  return out;
}

Result<Bytes> derToP1363(ByteView der) {
  const unsigned char* p = der.data();
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) return fail(ErrorCode::kBadField, "bad DER signature");
  Bytes out(kP1363SigLen);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 32, 32) != 32)
    return fail(ErrorCode::kBadField, "signature component too large");
  return out;
}

}  // namespace mpay::suite
