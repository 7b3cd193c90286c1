#include "signer/prepared_platform.h"

namespace mpay::signer {

PreparedPlatform::PreparedPlatform(const hsm::PlatformInfo& platform)
    : receipt_key_(ca::certificatePublicKey(platform.receipt_cert)),
      user_certificates_(platform.ca_cert, kVerifiedCertificates) {}

}  // namespace mpay::signer
