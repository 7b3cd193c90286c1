#include "signer/decoy.h"

#include <mutex>

#include "ca/certificate.h"
#include "signer/signer_crypto.h"
#include "suite/messages.h"

namespace mpay::signer {
namespace {

// A number no one can hold (+999 is a spare country code); it only has to
// pass the same certificate checks a user's does.
constexpr const char* kDecoyPhone = "+99900000000";
constexpr const char* kDecoySim = "89999000000000000000";

Result<DecoyCredential> makeDecoy(const hsm::Lane& lane) {
  MPAY_ASSIGN_OR_RETURN(suite::EcPrivateKey ca_key, ephemeralKey(lane));
  MPAY_ASSIGN_OR_RETURN(suite::EcPrivateKey user_key, ephemeralKey(lane));
  auto signer = [&](ByteView digest) { return ca_key.signDigestP1363(digest); };
  DecoyCredential d;
  ca::CertificateRequest ca_req{ca::Profile::kRootCa, {{"O", "mpay"}, {"CN", "mpay decoy CA"}}, "",
                                ca_key.publicKey().point(), {}, 3650, {}};
  MPAY_ASSIGN_OR_RETURN(ca_req.serial, randomBytes(lane, 16));
  MPAY_ASSIGN_OR_RETURN(d.ca_certificate, ca::issueCertificate(ca_req, {}, signer));
  ca::CertificateRequest user_req{ca::Profile::kUser,
                                  {{"O", "mpay"}, {"CN", kDecoyPhone}, {"serialNumber", kDecoySim}},
                                  std::string("URI:tel:") + kDecoyPhone,
                                  user_key.publicKey().point(),
                                  {},
                                  3650, {}};
  MPAY_ASSIGN_OR_RETURN(user_req.serial, randomBytes(lane, 16));
  MPAY_ASSIGN_OR_RETURN(d.user_certificate, ca::issueCertificate(user_req, d.ca_certificate, signer));
  MPAY_ASSIGN_OR_RETURN(d.salt, randomBytes(lane, suite::kSaltLen));
  MPAY_ASSIGN_OR_RETURN(d.password_verifier, randomBytes(lane, 32));
  return d;
}

}  // namespace

Result<const DecoyCredential*> decoyCredential(const hsm::Lane& lane) {
  static std::mutex mutex;
  static std::unique_ptr<DecoyCredential> decoy;
  std::lock_guard lock(mutex);
  if (!decoy) {
    MPAY_ASSIGN_OR_RETURN(DecoyCredential made, makeDecoy(lane));
    decoy = std::make_unique<DecoyCredential>(std::move(made));
  }
  return static_cast<const DecoyCredential*>(decoy.get());
}

}  // namespace mpay::signer
