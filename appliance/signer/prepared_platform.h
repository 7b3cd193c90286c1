// What a worker prepares once from the token's platform objects rather than
// per request: the receipt certificate's public key (every receipt is
// checked with it before release) and the user certificates already
// verified against the platform CA.
#pragma once
#include <memory>

#include "ca/user_certificate_cache.h"
#include "hsm/token.h"

namespace mpay::signer {

// User certificates a worker keeps verified (about 2 KiB each).
constexpr std::size_t kVerifiedCertificates = 1024;

class PreparedPlatform {
 public:
  explicit PreparedPlatform(const hsm::PlatformInfo& platform);
  // Parsed once; an unreadable certificate stays an error for every receipt.
  const Result<suite::EcPublicKey>& receiptKey() const { return receipt_key_; }
  ca::UserCertificateCache& userCertificates() { return user_certificates_; }

 private:
  Result<suite::EcPublicKey> receipt_key_;
  ca::UserCertificateCache user_certificates_;
};

}  // namespace mpay::signer
