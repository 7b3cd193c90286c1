// Symmetric primitives of suite mpay-v1, all from OpenSSL 3:
// SHA-256, HMAC-SHA256, HKDF-SHA256, AES-256-GCM (96-bit IV, 128-bit tag).
#pragma once
#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

typedef struct evp_md_st EVP_MD;
typedef struct evp_mac_st EVP_MAC;
typedef struct evp_kdf_st EVP_KDF;
typedef struct evp_cipher_st EVP_CIPHER;

namespace mpay::suite {

// The algorithms, fetched from OpenSSL's default provider once per process:
// by name on every call, OpenSSL 3 takes a lock and looks each one up again.
// A member is null only if the provider lacks it (every use then fails).
struct Algorithms {
  EVP_MD* sha256;
  EVP_MAC* hmac;
  EVP_KDF* hkdf;
  EVP_CIPHER* aes256gcm;
};
const Algorithms& algorithms();

inline constexpr std::size_t kGcmKeyLen = 32;
inline constexpr std::size_t kGcmIvLen = 12;
inline constexpr std::size_t kGcmTagLen = 16;
inline constexpr std::size_t kHmacLen = 32;

Bytes sha256(ByteView data);
Result<Bytes> hmacSha256(ByteView key, ByteView data);
// RFC 5869; at most 255 * 32 bytes of output.
Result<Secret> hkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);
// Returns ciphertext || tag.
Result<Bytes> aesGcmSeal(ByteView key, ByteView iv, ByteView aad, ByteView plaintext);
// Takes ciphertext || tag; the plaintext is a Secret because it usually is one.
Result<Secret> aesGcmOpen(ByteView key, ByteView iv, ByteView aad, ByteView sealed);

Bytes randomBytes(std::size_t n);  // OpenSSL CSPRNG: the phone side only

}  // namespace mpay::suite
