#include "suite/primitives.h"

#include "suite/openssl_ptr.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace mpay::suite {
namespace {

Error cryptoError(const char* what) { return fail(ErrorCode::kInternal, std::string("openssl: ") + what); }

Status checkGcmParams(ByteView key, ByteView iv) {
  if (key.size() != kGcmKeyLen) return fail(ErrorCode::kBadField, "AES-GCM key must be 32 bytes");
  if (iv.size() != kGcmIvLen) return fail(ErrorCode::kBadField, "AES-GCM IV must be 12 bytes");
  return {};
}

}  // namespace

const Algorithms& algorithms() {
  static const Algorithms fetched{EVP_MD_fetch(nullptr, "SHA256", nullptr), EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                  EVP_KDF_fetch(nullptr, "HKDF", nullptr),
                                  EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)};
  return fetched;
}

Bytes sha256(ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  if (!algorithms().sha256 ||
      EVP_Digest(data.data(), data.size(), out.data(), &len, algorithms().sha256, nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");  // only on memory exhaustion
  return out;
}

Result<Bytes> hmacSha256(ByteView key, ByteView data) {
  if (!algorithms().hmac) return cryptoError("HMAC fetch");
  ossl::MacCtxPtr ctx(EVP_MAC_CTX_new(algorithms().hmac));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  Bytes out(kHmacLen);
  std::size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != kHmacLen)
    return cryptoError("HMAC");
  return out;
}

Result<Secret> hkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  if (length == 0 || length > 255 * 32) return fail(ErrorCode::kBadField, "HKDF length out of range");
  if (!algorithms().hkdf) return cryptoError("HKDF fetch");
  ossl::KdfCtxPtr ctx(EVP_KDF_CTX_new(algorithms().hkdf));
  char digest[] = "SHA256";
  static unsigned char kEmpty = 0;
  auto* ikm_p = const_cast<unsigned char*>(ikm.empty() ? &kEmpty : ikm.data());
  auto* salt_p = const_cast<unsigned char*>(salt.empty() ? &kEmpty : salt.data());
  auto* info_p = const_cast<unsigned char*>(info.empty() ? &kEmpty : info.data());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm_p, ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_p, salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info_p, info.size()),
      OSSL_PARAM_construct_end()};
  Secret out(length);
  if (!ctx || EVP_KDF_derive(ctx.get(), out.exposeSecretMutable().data(), length, params) != 1)
    return cryptoError("HKDF");
  return out;
}

Result<Bytes> aesGcmSeal(ByteView key, ByteView iv, ByteView aad, ByteView plaintext) {
  MPAY_RETURN_IF_ERROR(checkGcmParams(key, iv));
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(plaintext.size() + kGcmTagLen);
  int len = 0, total = 0;
  if (!ctx || !algorithms().aes256gcm || EVP_EncryptInit_ex(ctx.get(), algorithms().aes256gcm, nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1)
    return cryptoError("AES-GCM encrypt");
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagLen),
                          out.data() + plaintext.size()) != 1)
    return cryptoError("AES-GCM final");
  return out;
}

Result<Secret> aesGcmOpen(ByteView key, ByteView iv, ByteView aad, ByteView sealed) {
  MPAY_RETURN_IF_ERROR(checkGcmParams(key, iv));
  if (sealed.size() < kGcmTagLen) return fail(ErrorCode::kDecryptFailed, "ciphertext shorter than tag");
  const std::size_t ct_len = sealed.size() - kGcmTagLen;
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Secret out(ct_len);
  unsigned char tag[kGcmTagLen];
  std::copy(sealed.begin() + static_cast<long>(ct_len), sealed.end(), tag);
  int len = 0;
  if (!ctx || !algorithms().aes256gcm || EVP_DecryptInit_ex(ctx.get(), algorithms().aes256gcm, nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), out.exposeSecretMutable().data(), &len, sealed.data(),
                        static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagLen), tag) != 1)
    return cryptoError("AES-GCM decrypt");
  if (EVP_DecryptFinal_ex(ctx.get(), out.exposeSecretMutable().data() + len, &len) != 1)
    return fail(ErrorCode::kDecryptFailed, "AES-GCM tag mismatch");
  return out;
}

Bytes randomBytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

}  // namespace mpay::suite
