// What a worker prepares once from the token's platform objects rather than
// per request: the user certificates already verified against the platform
// CA (the CA does not rotate in this version).
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
  ca::UserCertificateCache& userCertificates() { return user_certificates_; }

 private:
  ca::UserCertificateCache user_certificates_;
};

}  // namespace mpay::signer
