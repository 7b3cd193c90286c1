#include "signer/prepared_platform.h"

namespace mpay::signer {
namespace {

std::shared_ptr<ca::UserCertificateCache> cacheFor(const hsm::PlatformInfo& platform) {
  // The signer holds every CA certificate as a trust anchor of its own: no link is needed.
  return std::make_shared<ca::UserCertificateCache>(ca::CaTrust{platform.ca_certs, {}, {}}, kVerifiedCertificates);
}

}  // namespace

PreparedPlatform::PreparedPlatform(std::shared_ptr<const hsm::PlatformInfo> platform)
    : ca_certs_(platform->ca_certs), user_certificates_(cacheFor(*platform)) {}

std::shared_ptr<ca::UserCertificateCache> PreparedPlatform::userCertificates(
    const std::shared_ptr<const hsm::PlatformInfo>& now) {
  std::lock_guard lock(mutex_);
  if (now->ca_certs != ca_certs_) {
    ca_certs_ = now->ca_certs;
    user_certificates_ = cacheFor(*now);
  }
  return user_certificates_;
}

}  // namespace mpay::signer
