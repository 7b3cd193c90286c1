#include "ca/user_certificate_cache.h"

#include <ctime>

#include "suite/primitives.h"

namespace mpay::ca {
namespace {

std::string keyOf(ByteView der) {
  const Bytes digest = suite::sha256(der);
  return std::string(digest.begin(), digest.end());
}

// As the full check: every certificate of its chain valid now.
Status validAt(const UserCertificate& cert, std::int64_t now) {
  if (now < cert.chain.not_before)
    return fail(ErrorCode::kBadCertificate, "certificate: certificate is not yet valid");
  if (now >= cert.chain.not_after)
    return fail(ErrorCode::kBadCertificate, "certificate: certificate has expired");
  return {};
}

}  // namespace

UserCertificateCache::UserCertificateCache(const CaTrust& trust, std::size_t capacity)
    : trust_(TrustedCas::parse(trust)), capacity_(capacity) {}

Result<UserCertificate> UserCertificateCache::verify(ByteView user_der) {
  if (!trust_) return trust_.error();
  const std::string key = keyOf(user_der);
  {
    std::lock_guard lock(mutex_);
    if (auto it = verified_.find(key); it != verified_.end()) {
      MPAY_RETURN_IF_ERROR(validAt(it->second, static_cast<std::int64_t>(std::time(nullptr))));
      return it->second;
    }
  }
  MPAY_ASSIGN_OR_RETURN(UserCertificate cert, verifyUserCertificate(user_der, trust_.value()));
  keep(key, cert);
  return cert;
}

Result<UserCertificate> UserCertificateCache::verifyInFull(ByteView user_der) {
  if (!trust_) return trust_.error();
  MPAY_ASSIGN_OR_RETURN(UserCertificate cert, verifyUserCertificate(user_der, trust_.value()));
  keep(keyOf(user_der), cert);
  return cert;
}

std::size_t UserCertificateCache::size() const {
  std::lock_guard lock(mutex_);
  return verified_.size();
}

void UserCertificateCache::keep(const std::string& key, const UserCertificate& cert) {
  std::lock_guard lock(mutex_);
  if (capacity_ == 0 || !verified_.emplace(key, cert).second) return;
  order_.push_back(key);
  while (order_.size() > capacity_) {
    verified_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace mpay::ca
