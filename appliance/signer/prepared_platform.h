// What a worker prepares from the token's platform objects rather than per
// request: the user certificates already verified against the CA
// generations the token holds. A CA rotation step (a begun, switched or
// retired generation) gives the token a new platform snapshot; the next
// request then starts a cache for the new set of CAs.
#pragma once
#include <memory>
#include <mutex>

#include "ca/user_certificate_cache.h"
#include "hsm/token.h"

namespace mpay::signer {

// User certificates a worker keeps verified (about 2 KiB each).
constexpr std::size_t kVerifiedCertificates = 1024;

class PreparedPlatform {
 public:
  explicit PreparedPlatform(std::shared_ptr<const hsm::PlatformInfo> platform);
  // The cache for `now`'s CA certificates (the token's platform snapshot).
  std::shared_ptr<ca::UserCertificateCache> userCertificates(const std::shared_ptr<const hsm::PlatformInfo>& now);
  // What the decoy's certificate is checked with (docs/threat-model.md,
  // "What remains observable"): its own CA and, beside it, as many anchors
  // as the users' check has, parsed once as theirs are, so that an unknown
  // number's login costs what a known one's does.
  std::shared_ptr<ca::UserCertificateCache> decoyCertificates(const std::shared_ptr<const hsm::PlatformInfo>& now,
                                                              ByteView decoy_ca);

 private:
  void follow(const std::shared_ptr<const hsm::PlatformInfo>& now);  // caller holds mutex_
  std::mutex mutex_;
  std::shared_ptr<const hsm::PlatformInfo> seen_;  // guarded by mutex_: the snapshot last compared
  std::vector<Bytes> ca_certs_;  // guarded by mutex_
  std::shared_ptr<ca::UserCertificateCache> user_certificates_;  // guarded by mutex_
  std::shared_ptr<ca::UserCertificateCache> decoy_certificates_;  // guarded by mutex_; made at first use
};

}  // namespace mpay::signer
