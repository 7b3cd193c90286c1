// open_login: patent steps S36-S38 on the platform side.
#include <utility>

#include "ca/certificate.h"
#include "signer/decoy.h"
#include "signer/operations.h"
#include "signer/signer_crypto.h"
#include "suite/ecies.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::signer {
namespace {

namespace label = suite::label;

// C1 = iv (12) || AES-256-GCM(K, iv, aad = label, plaintext) || tag
Result<suite::LoginC1> openC1(const Secret& k, ByteView c1) {
  if (c1.size() < suite::kGcmIvLen + suite::kGcmTagLen) return fail(ErrorCode::kDecryptFailed, "C1 too short");
  MPAY_ASSIGN_OR_RETURN(Secret plaintext, suite::aesGcmOpen(k.exposeSecret(), c1.first(suite::kGcmIvLen),
                                                            asBytes(label::kLoginC1), c1.subspan(suite::kGcmIvLen)));
  return suite::parseLoginC1(plaintext);
}

Result<Bytes> login(OpContext& ctx, const hsm::Lane& lane, const wire::OpenLoginRequest& req,
                    const ca::UserCertificate& user, StateSteps& steps, std::string* change) {
  // S36: K from C2 (service key), then C1, the login signature and the password.
  MPAY_ASSIGN_OR_RETURN(Secret k, openSealedToService(lane, ctx.now(), label::kLoginKey, req.c2));
  if (k.size() != suite::kKeyLen) return fail(ErrorCode::kBadField, "K must be 32 bytes");
  MPAY_ASSIGN_OR_RETURN(suite::LoginC1 c1, openC1(k, req.c1));
  // Every check runs whichever fails first, so that a foreign key, another
  // number or the decoy costs what a wrong password costs.
  const bool same_phone = c1.phone == user.phone;
  Secret signed_bytes = suite::loginSignedBytes(k, c1.phone, c1.password, c1.timestamp, c1.nonce);
  const bool signed_by_user = user.public_key.verifyDer(signed_bytes.exposeSecret(), c1.signature);
  const ByteView user_key = user.public_key.point();
  MPAY_ASSIGN_OR_RETURN(Bytes verifier, computeVerifier(lane, req.password_verifier_generation,
                                                        label::kPasswordVerifier, c1.phone, user_key, req.salt,
                                                        c1.password));
  if (!same_phone) return fail(ErrorCode::kMismatch, "C1 phone differs from the certificate");
  if (!signed_by_user) return fail(ErrorCode::kBadSignature, "login signature");
  // The signer's own rules, whatever the gateway checked: the number is
  // this key's, the nonce is spent and a try taken before the password's
  // answer is looked at.
  const auto platform_now = ctx.token.platform();
  const ByteView platform = platform_now->platform_identity;
  MPAY_RETURN_IF_ERROR(ctx.state->checkOwner(c1.phone, platform, user_key, ctx.now()));
  if (!std::exchange(steps.nonce, true))
    MPAY_RETURN_IF_ERROR(ctx.state->spendLoginNonce(c1.phone, c1.nonce, c1.timestamp, ctx.now(), change));
  const GuessOf whose{Guess::kPassword, c1.phone, user_key};
  if (!std::exchange(steps.guess, true)) MPAY_RETURN_IF_ERROR(ctx.state->takeGuess(whose, ctx.now(), change));
  const bool right_password = constantTimeEqual(verifier, req.password_verifier);
  if (!std::exchange(steps.settled, true)) ctx.state->settleGuess(whose, right_password, ctx.now(), change);
  if (!right_password) return fail(ErrorCode::kBadPassword, "password");
  if (req.check_only) {
    // A registration still waiting for its SMS proof: the caller learns the
    // login is right, nothing more — no keys, no hold on the number.
    wire::OpenLoginResponse checked;
    checked.phone = c1.phone;
    checked.timestamp = c1.timestamp;
    checked.nonce = c1.nonce;
    checked.session_id = Bytes(suite::kSessionIdLen, 0);
    return wire::encodeMessage(checked);
  }
  // The first login holds the number for this key until its certificate expires.
  MPAY_RETURN_IF_ERROR(ctx.state->bindOwner(c1.phone, platform, user_key, static_cast<std::uint64_t>(user.not_after),
                                            ctx.now(), change));

  // S37: message key, PIN protection key, session id, digest with K.
  suite::LoginKeys keys;
  MPAY_ASSIGN_OR_RETURN(keys.message_key, lane.random(suite::kKeyLen));
  MPAY_ASSIGN_OR_RETURN(keys.pin_key, lane.random(suite::kKeyLen));
  MPAY_ASSIGN_OR_RETURN(keys.session_id, randomBytes(lane, suite::kSessionIdLen));
  Secret digest_input = suite::loginDigestInput(keys.message_key, keys.pin_key, keys.session_id);
  MPAY_ASSIGN_OR_RETURN(keys.digest, suite::hmacSha256(k.exposeSecret(), digest_input.exposeSecret()));

  // S38: the keys sealed to the user's certified key; stored only under the KEK.
  wire::OpenLoginResponse r;
  r.phone = c1.phone;
  r.timestamp = c1.timestamp;
  r.nonce = c1.nonce;
  r.session_id = keys.session_id;
  r.expires_at = ctx.now() + suite::kSessionLifetimeSeconds;
  MPAY_ASSIGN_OR_RETURN(suite::EcPrivateKey ephemeral, ephemeralKey(lane));
  Secret plaintext = suite::encodeLoginKeys(keys);
  MPAY_ASSIGN_OR_RETURN(r.sealed_keys,
                        suite::eciesSeal(user.public_key, label::kLoginKeys, plaintext.exposeSecret(), ephemeral));
  Secret both(2 * suite::kKeyLen);
  std::copy_n(keys.message_key.exposeSecret().begin(), suite::kKeyLen, both.exposeSecretMutable().begin());
  std::copy_n(keys.pin_key.exposeSecret().begin(), suite::kKeyLen,
              both.exposeSecretMutable().begin() + suite::kKeyLen);
  MPAY_ASSIGN_OR_RETURN(Bytes wrapped, lane.seal(lane.keys().kek,
                                                 suite::sessionKeysAad(r.session_id, r.phone, r.expires_at),
                                                 both.exposeSecret()));
  ByteWriter w;
  w.u64(r.expires_at).raw(wrapped);
  r.wrapped_keys = w.take();
  r.kek_generation = lane.kekGeneration();
  // The password is in hand: a verifier under an older key is made again
  // under the current one (docs/architecture.md, "Key rotation"). Best
  // effort: without it the login stands and the next one tries again.
  if (req.password_verifier_generation < lane.verifierGeneration()) {
    if (auto renewed = computeVerifier(lane, lane.verifierGeneration(), label::kPasswordVerifier, c1.phone, user_key,
                                       req.salt, c1.password)) {
      r.password_verifier = std::move(renewed).value();
      r.verifier_generation = lane.verifierGeneration();
    }
  }
  return wire::encodeMessage(r);
}

// An empty certificate: the number has no user. The same checks run against
// the decoy, whose key nobody holds: once C1 opens, the answer is
// bad_signature, as for a known number's login signed by a foreign key.
Result<Bytes> loginAsNobody(OpContext& ctx, const hsm::Lane& lane, wire::OpenLoginRequest req, StateSteps& steps,
                            std::string* change) {
  MPAY_ASSIGN_OR_RETURN(const DecoyCredential* decoy, decoyCredential(lane));
  MPAY_ASSIGN_OR_RETURN(auto nobody, ctx.prepared->decoyCertificates(ctx.token.platform(), decoy->ca_certificate)
                                         ->verifyInFull(decoy->user_certificate));
  req.salt = decoy->salt;
  req.password_verifier = decoy->password_verifier;
  req.password_verifier_generation = lane.verifierGeneration();
  auto refused = login(ctx, lane, req, nobody, steps, change);
  if (!refused.ok() && refused.error().code != ErrorCode::kMismatch) return refused;
  return fail(ErrorCode::kBadSignature, "login signature");
}

}  // namespace

Result<Bytes> handleOpenLogin(OpContext& ctx, ByteView payload, std::string* change) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::OpenLoginRequest>(payload));
  if (req.check_only > 1) return fail(ErrorCode::kBadField, "check_only");
  if (!ctx.state) return fail(ErrorCode::kInternal, "no signer state");
  StateSteps steps;
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) -> Result<Bytes> {
    if (req.certificate.empty()) return loginAsNobody(ctx, lane, req, steps, change);
    // In full every time, as the decoy's is: a certificate seen before must
    // not make a known number's refusal faster than an unknown one's.
    MPAY_ASSIGN_OR_RETURN(auto user, ctx.prepared->userCertificates(ctx.token.platform())->verifyInFull(req.certificate));
    return login(ctx, lane, req, user, steps, change);
  });
}

}  // namespace mpay::signer
