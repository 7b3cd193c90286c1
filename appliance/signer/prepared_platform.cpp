#include "signer/prepared_platform.h"

namespace mpay::signer {
namespace {

std::shared_ptr<ca::UserCertificateCache> cacheFor(const hsm::PlatformInfo& platform) {
  // The signer holds every CA certificate as a trust anchor of its own: no link is needed.
  return std::make_shared<ca::UserCertificateCache>(ca::CaTrust{platform.ca_certs, {}}, kVerifiedCertificates);
}

}  // namespace

PreparedPlatform::PreparedPlatform(std::shared_ptr<const hsm::PlatformInfo> platform)
    : seen_(platform), ca_certs_(platform->ca_certs), user_certificates_(cacheFor(*platform)) {}

void PreparedPlatform::follow(const std::shared_ptr<const hsm::PlatformInfo>& now) {
  if (now == seen_) return;  // the token replaces its snapshot only when the rotation state changes
  seen_ = now;
  if (now->ca_certs == ca_certs_) return;
  ca_certs_ = now->ca_certs;
  user_certificates_ = cacheFor(*now);
  decoy_certificates_.reset();
}

std::shared_ptr<ca::UserCertificateCache> PreparedPlatform::userCertificates(
    const std::shared_ptr<const hsm::PlatformInfo>& now) {
  std::lock_guard lock(mutex_);
  follow(now);
  return user_certificates_;
}

std::shared_ptr<ca::UserCertificateCache> PreparedPlatform::decoyCertificates(
    const std::shared_ptr<const hsm::PlatformInfo>& now, ByteView decoy_ca) {
  std::lock_guard lock(mutex_);
  follow(now);
  if (!decoy_certificates_) {
    // The decoy's CA first; the platform's under another name never match its certificate.
    std::vector<Bytes> anchors{Bytes(decoy_ca.begin(), decoy_ca.end())};
    anchors.insert(anchors.end(), now->ca_certs.begin() + (now->ca_certs.empty() ? 0 : 1), now->ca_certs.end());
    decoy_certificates_ = std::make_shared<ca::UserCertificateCache>(ca::CaTrust{anchors, {}}, 0);
  }
  return decoy_certificates_;
}

}  // namespace mpay::signer
