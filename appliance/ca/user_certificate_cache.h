// User certificates verified once. Checking a certificate against the CAs is
// an X.509 parse (OpenSSL 3's decoders), a chain build and an ECDSA
// verification; a payment carries the same certificate every time, so the
// result is kept by the certificate's SHA-256. Bounded: the oldest entry
// goes first. The validity period is checked again on every use.
#pragma once
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "ca/certificate.h"

namespace mpay::ca {

class UserCertificateCache {
 public:
  // `trust`: every CA generation whose certificates are still honoured,
  // parsed once here (a CA that does not parse: nothing ever verifies).
  UserCertificateCache(const CaTrust& trust, std::size_t capacity);

  // From the cache when these bytes were verified before (valid now, by the
  // system clock as in the full check), else verified and kept.
  Result<UserCertificate> verify(ByteView user_der);
  // Verified in full every time (so that the cost does not depend on what
  // was seen before: logins), and kept for the payments that follow.
  Result<UserCertificate> verifyInFull(ByteView user_der);

  std::size_t size() const;

 private:
  void keep(const std::string& key, const UserCertificate& cert);
  const Result<TrustedCas> trust_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, UserCertificate> verified_;
  std::deque<std::string> order_;  // oldest first
};

}  // namespace mpay::ca
