// open_registration: patent steps S03-S06 on the platform side.
#include "ca/certificate.h"
#include "signer/operations.h"
#include "signer/signer_crypto.h"
#include "suite/certificate_file.h"
#include "suite/messages.h"

namespace mpay::signer {
namespace {

namespace label = suite::label;

constexpr long kUserCertificateDays = 730;
constexpr std::size_t kRegistrationCodeDigits = 12;
constexpr std::size_t kConfirmationCodeDigits = 8;

// S04-S05: the user's key pair (a session object) and its certificate with info2.
// Issued by the CA generation the lane holds (its key and its certificate go together).
Result<Bytes> issueUserCertificate(const hsm::Lane& lane, const suite::Info1& info, ByteView user_point) {
  ca::CertificateRequest req;
  req.profile = ca::Profile::kUser;
  req.subject = {{"O", "mpay"}, {"CN", info.phone}, {"serialNumber", info.sim}};
  req.san = "URI:tel:" + info.phone;
  req.subject_point.assign(user_point.begin(), user_point.end());
  MPAY_ASSIGN_OR_RETURN(req.serial, randomBytes(lane, 16));
  req.valid_days = kUserCertificateDays;
  return ca::issueCertificate(req, lane.caCertificate(),
                              [&](ByteView digest) { return lane.signDigest(lane.keys().ca, digest); });
}

Result<Bytes> enroll(OpContext& ctx, const hsm::Lane& lane, const wire::OpenRegistrationRequest& req) {
  const auto& policy = ctx.token.policy();
  // S03: open info1 with the service key.
  MPAY_ASSIGN_OR_RETURN(Secret plaintext, openSealedToService(lane, ctx.now(), label::kRegister, req.sealed_info1));
  MPAY_ASSIGN_OR_RETURN(suite::Info1 info, suite::parseInfo1(plaintext));

  // S04: the key pair first: the verifiers name its public key.
  MPAY_ASSIGN_OR_RETURN(hsm::UserKeyPair pair, lane.generateUserKeyPair(policy.key("user")));
  wire::OpenRegistrationResponse r;
  r.phone = info.phone;
  MPAY_ASSIGN_OR_RETURN(r.salt, randomBytes(lane, suite::kSaltLen));
  r.verifier_generation = lane.verifierGeneration();
  MPAY_ASSIGN_OR_RETURN(r.password_verifier, computeVerifier(lane, r.verifier_generation, label::kPasswordVerifier,
                                                             info.phone, pair.point, r.salt, info.password));
  MPAY_ASSIGN_OR_RETURN(r.pin_verifier, computeVerifier(lane, r.verifier_generation, label::kPinVerifier, info.phone,
                                                        pair.point, r.salt, info.pin));
  r.kek_generation = lane.kekGeneration();
  MPAY_ASSIGN_OR_RETURN(r.identity, lane.seal(lane.keys().kek, suite::identityAad(info.phone),
                                              suite::identityPlaintext(info.name, info.id_number)));

  // S05-S06: certificate, PKCS#12 under info3, then the key object goes.
  MPAY_ASSIGN_OR_RETURN(r.certificate, issueUserCertificate(lane, info, pair.point));
  MPAY_ASSIGN_OR_RETURN(Secret pkcs8, lane.exportPrivateKey(pair.private_key->get(), policy.key("wrap-once")));
  if (CK_RV rv = pair.private_key->destroy(); rv != CKR_OK) return hsm::ckError(rv, "destroy user private key");
  Secret info3 = suite::info3Password(info.phone, info.imei, info.sim, info.password);
  MPAY_ASSIGN_OR_RETURN(Bytes p12, suite::buildCertificateFile(pkcs8, r.certificate, lane.caCertificate(), info3,
                                                               ctx.pkcs12_iterations));
  MPAY_ASSIGN_OR_RETURN(r.registration_code, randomDigits(lane, kRegistrationCodeDigits));
  MPAY_ASSIGN_OR_RETURN(r.confirmation_code, randomDigits(lane, kConfirmationCodeDigits));
  MPAY_ASSIGN_OR_RETURN(r.registration_file,
                        suite::buildRegistrationFile(p12, r.registration_code, r.confirmation_code));
  MPAY_ASSIGN_OR_RETURN(r.confirmation_proof,
                        suite::confirmationProof(info.phone, p12, r.registration_code, r.confirmation_code));
  return wire::encodeMessage(r);
}

}  // namespace

Result<Bytes> handleOpenRegistration(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::OpenRegistrationRequest>(payload));
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) { return enroll(ctx, lane, req); });
}

Result<Bytes> handleRewrapIdentity(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::RewrapIdentityRequest>(payload));
  if (!suite::validPhone(req.phone)) return fail(ErrorCode::kBadField, "phone");
  if (req.generation == 0 || req.generation > UINT32_MAX) return fail(ErrorCode::kBadField, "kek generation");
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) -> Result<Bytes> {
    // Only forward: sealing again under the current KEK would only spend its IVs.
    if (req.generation >= lane.kekGeneration()) return fail(ErrorCode::kBadField, "not older than the current KEK");
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE old, lane.kekKey(static_cast<std::uint32_t>(req.generation)));
    const Bytes aad = suite::identityAad(req.phone);
    // Opened and sealed inside the signer; the caller gets only ciphertext,
    // and only for a record that opens under that phone's AAD.
    MPAY_ASSIGN_OR_RETURN(Secret plain, lane.open(old, aad, req.identity));
    wire::RewrapIdentityResponse r;
    MPAY_ASSIGN_OR_RETURN(r.identity, lane.seal(lane.keys().kek, aad, plain.exposeSecret()));
    r.generation = lane.kekGeneration();
    return wire::encodeMessage(r);
  });
}

}  // namespace mpay::signer
