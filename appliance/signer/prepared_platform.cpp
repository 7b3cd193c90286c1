#include "signer/prepared_platform.h"

namespace mpay::signer {

PreparedPlatform::PreparedPlatform(const hsm::PlatformInfo& platform)
    : user_certificates_(platform.ca_cert, kVerifiedCertificates) {}

}  // namespace mpay::signer
