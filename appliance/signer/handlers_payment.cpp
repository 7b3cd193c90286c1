// open_payment and sign_receipt: patent step S46 on the platform side.
#include <utility>

#include "ca/certificate.h"
#include "suite/acquirer_answer.h"
#include "signer/operations.h"
#include "signer/signer_crypto.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::signer {
namespace {

namespace label = suite::label;

Status checkPaymentFields(const wire::OpenPaymentRequest& req) {
  if (!suite::validOrderNo(req.order_no)) return fail(ErrorCode::kBadField, "order number");
  if (!suite::validPhone(req.phone)) return fail(ErrorCode::kBadField, "phone");
  if (!suite::validCurrency(req.currency)) return fail(ErrorCode::kBadField, "currency");
  if (req.amount_minor == 0) return fail(ErrorCode::kBadField, "amount must be positive");
  if (req.critical > 1) return fail(ErrorCode::kBadField, "critical flag");
  if (req.critical) {
    if (!req.content.empty() || !req.pin_ciphertext.empty())
      return fail(ErrorCode::kBadField, "critical payments carry content and PIN only encrypted");
  } else if (!req.critical_ciphertext.empty() || !suite::validContent(req.content)) {
    return fail(ErrorCode::kBadField, "content");
  }
  return {};
}

// Session keys: u64 expires_at || iv || GCM(KEK, message key || PIN key).
struct SessionKeys {
  Secret message_key, pin_key;
  std::uint64_t expires_at = 0;
};
Result<SessionKeys> unwrapSessionKeys(OpContext& ctx, const hsm::Lane& lane, const wire::OpenPaymentRequest& req) {
  ByteReader r(req.wrapped_keys);
  std::uint64_t expires_at = 0;
  if (!r.u64(&expires_at)) return fail(ErrorCode::kBadFrame, "wrapped keys");
  if (ctx.now() >= expires_at) return fail(ErrorCode::kSessionExpired, "session keys expired");
  ByteView sealed = ByteView(req.wrapped_keys).subspan(8);
  // Sealed under a KEK the token no longer holds: the session is over (a
  // retire waits until no live session needs it, so only an old one gets here).
  if (req.kek_generation == 0 || req.kek_generation > UINT32_MAX) return fail(ErrorCode::kBadField, "kek generation");
  auto kek = lane.kekKey(static_cast<std::uint32_t>(req.kek_generation));
  if (!kek) return fail(ErrorCode::kSessionExpired, "session keys under a KEK no longer in use: " + kek.error().detail);
  MPAY_ASSIGN_OR_RETURN(Secret both, lane.open(kek.value(), suite::sessionKeysAad(req.session_id, req.phone, expires_at),
                                               sealed));
  if (both.size() != 2 * suite::kKeyLen) return fail(ErrorCode::kDecryptFailed, "session keys length");
  return SessionKeys{Secret::copyOf(both.exposeSecret().first(suite::kKeyLen)),
                     Secret::copyOf(both.exposeSecret().subspan(suite::kKeyLen)), expires_at};
}

Result<Secret> gcmOpen(const Secret& key, ByteView blob, ByteView aad) {
  if (blob.size() < suite::kGcmIvLen + suite::kGcmTagLen) return fail(ErrorCode::kDecryptFailed, "too short");
  return suite::aesGcmOpen(key.exposeSecret(), blob.first(suite::kGcmIvLen), aad, blob.subspan(suite::kGcmIvLen));
}

// The issuing state's epoch travels with the permit: every signer of a
// cluster holds the permit key, so an order one appliance left open can be
// completed by another (spent there in its table of foreign permits).
struct Permit {
  ByteView epoch;
  std::uint64_t id = 0, expires_at = 0;
};

Result<Bytes> permitMac(const hsm::Lane& lane, Permit p, std::string_view order_no, std::string_view phone,
                        std::uint64_t amount, std::string_view currency) {
  return lane.hmac(lane.keys().permit,
                   suite::permitMacInput(p.epoch, p.id, order_no, phone, amount, currency, p.expires_at));
}

Result<Bytes> openPayment(OpContext& ctx, const hsm::Lane& lane, const wire::OpenPaymentRequest& req,
                          const ca::UserCertificate& user, StateSteps& steps, std::string* change) {
  MPAY_ASSIGN_OR_RETURN(SessionKeys keys, unwrapSessionKeys(ctx, lane, req));
  std::string content = req.content;
  Bytes pin_ciphertext = req.pin_ciphertext;
  if (req.critical) {  // S45, critical: content and PIN ciphertext under the message key
    MPAY_ASSIGN_OR_RETURN(Secret plain, gcmOpen(keys.message_key, req.critical_ciphertext,
                                                suite::criticalAad(req.session_id, req.order_no, req.phone)));
    MPAY_ASSIGN_OR_RETURN(auto parts, suite::parseCriticalPlaintext(plain));
    std::tie(content, pin_ciphertext) = std::move(parts);
    if (!suite::validContent(content)) return fail(ErrorCode::kBadField, "content");
  }
  suite::PaymentFields fields{req.order_no, req.phone,      req.amount_minor, req.currency, content,
                              pin_ciphertext, req.session_id, req.counter,      req.timestamp};
  if (!user.public_key.verifyDer(suite::paymentSignedBytes(fields), req.signature))
    return fail(ErrorCode::kBadSignature, "payment signature");
  // The signer's own rules, whatever the gateway checked: the counter is
  // spent, then a try taken before the PIN is checked.
  const ByteView user_key = user.public_key.point();
  MPAY_RETURN_IF_ERROR(ctx.state->checkOwner(req.phone, ctx.token.platform()->platform_identity, user_key, ctx.now()));
  if (!std::exchange(steps.counter, true))
    MPAY_RETURN_IF_ERROR(ctx.state->advanceCounter(req.session_id, req.counter,
                                                   keys.expires_at - suite::kSessionLifetimeSeconds, keys.expires_at,
                                                   ctx.now(), change));
  MPAY_ASSIGN_OR_RETURN(Secret pin, gcmOpen(keys.pin_key, pin_ciphertext, suite::pinAad(req.session_id, req.order_no)));
  const GuessOf whose{Guess::kPin, req.phone, user_key};
  if (!std::exchange(steps.guess, true)) MPAY_RETURN_IF_ERROR(ctx.state->takeGuess(whose, ctx.now(), change));
  bool right_pin = suite::validPin(pin.exposeSecretText());
  if (right_pin) {
    auto verifier = computeVerifier(lane, req.pin_verifier_generation, label::kPinVerifier, req.phone, user_key,
                                    req.salt, pin);
    if (!verifier) {
      // Not checked: the try goes back (the token's retry takes it again) —
      // unless an earlier attempt of this request already settled it.
      if (!steps.settled) {
        ctx.state->returnGuess(whose, ctx.now(), change);
        steps.guess = false;
      }
      return std::move(verifier).error();
    }
    right_pin = constantTimeEqual(verifier.value(), req.pin_verifier);
  }
  if (!std::exchange(steps.settled, true)) ctx.state->settleGuess(whose, right_pin, ctx.now(), change);
  if (!right_pin) return fail(ErrorCode::kBadPin, "PIN");
  // As at login: the PIN's verifier made again under the current key, best effort.
  Bytes renewed_verifier;
  std::uint64_t renewed_generation = 0;
  if (req.pin_verifier_generation < lane.verifierGeneration()) {
    if (auto renewed = computeVerifier(lane, lane.verifierGeneration(), label::kPinVerifier, req.phone, user_key,
                                       req.salt, pin)) {
      renewed_verifier = std::move(renewed).value();
      renewed_generation = lane.verifierGeneration();
    }
  }

  wire::OpenPaymentResponse r{req.order_no, req.phone,   req.amount_minor, req.currency, content, req.counter,
                              req.timestamp, {},          {},               0};
  Permit p{ctx.state->epoch()};
  MPAY_ASSIGN_OR_RETURN(p.id, ctx.state->issuePermit(change));
  p.expires_at = ctx.now() + suite::kPermitLifetimeSeconds;
  MPAY_ASSIGN_OR_RETURN(Bytes mac, permitMac(lane, p, r.order_no, r.phone, r.amount_minor, r.currency));
  ByteWriter permit;
  permit.raw(p.epoch).u64(p.id).u64(p.expires_at).raw(mac);
  r.permit = permit.take();
  r.pin_verifier = std::move(renewed_verifier);
  r.verifier_generation = renewed_generation;
  return wire::encodeMessage(r);
}

Result<Bytes> signReceipt(OpContext& ctx, const hsm::Lane& lane, const wire::SignReceiptRequest& req,
                          std::string* change) {
  ByteReader reader(req.permit);
  Permit p;
  ByteView mac;
  if (!reader.raw(ctx.state->epoch().size(), &p.epoch) || !reader.u64(&p.id) || !reader.u64(&p.expires_at) ||
      !reader.raw(suite::kHmacLen, &mac) || !reader.empty())
    return fail(ErrorCode::kBadPermit, "permit does not parse");
  if (ctx.now() > p.expires_at) return fail(ErrorCode::kBadPermit, "permit expired");
  MPAY_ASSIGN_OR_RETURN(Bytes expected, permitMac(lane, p, req.order_no, req.phone, req.amount_minor, req.currency));
  if (!constantTimeEqual(mac, expected)) return fail(ErrorCode::kBadPermit, "permit is not for this payment");
  // The acquirer signed exactly these values, or there is no receipt.
  const suite::AcquirerAnswer answer{req.order_no,     req.phone,          req.amount_minor, req.currency,
                                     static_cast<suite::PaymentResult>(req.result), req.transaction_no, req.time};
  const Bytes answer_bytes = suite::acquirerAnswerBytes(answer);
  if (!ctx.acquirer_key) return fail(ErrorCode::kInternal, "no acquirer certificate");
  if (!ctx.acquirer_key->verifyDer(answer_bytes, req.acquirer_signature))
    return fail(ErrorCode::kBadAcquirerAnswer, "the acquirer did not sign these values");
  const Bytes answer_fingerprint = suite::sha256(answer_bytes);
  if (constantTimeEqual(p.epoch, ctx.state->epoch()))
    MPAY_RETURN_IF_ERROR(ctx.state->spendPermit(p.id, answer_fingerprint, change));
  else if (p.expires_at - suite::kPermitLifetimeSeconds < ctx.state->createdAt())
    // Another state's permit from before this one existed: perhaps this
    // signer's own, from a state file it no longer has, spent there already.
    return fail(ErrorCode::kBadPermit, "another state's permit, issued before this signer's state was made");
  else
    MPAY_RETURN_IF_ERROR(
        ctx.state->spendForeignPermit(p.epoch, p.id, p.expires_at, answer_fingerprint, ctx.now(), change));

  suite::Receipt receipt{req.transaction_no, answer.result, req.order_no, req.phone,
                         req.amount_minor,   req.currency,  req.time};
  Bytes bytes = suite::receiptBytes(receipt);
  MPAY_ASSIGN_OR_RETURN(Bytes token_signature, lane.signDigest(lane.keys().receipt, suite::sha256(bytes)));
  MPAY_ASSIGN_OR_RETURN(Bytes raw, suite::lowS(token_signature));
  // Verify before release: a faulty signature must not leave the appliance.
  // The lane's own receipt generation: a rotation changes key and check together.
  if (!lane.receiptPublicKey().verifyP1363(bytes, raw))
    return fail(ErrorCode::kInternal, "receipt signature self-check failed");
  MPAY_ASSIGN_OR_RETURN(Bytes der, suite::p1363ToDer(raw));
  return wire::encodeMessage(wire::SignReceiptResponse{std::move(bytes), std::move(der)});
}

}  // namespace

Result<Bytes> handleOpenPayment(OpContext& ctx, ByteView payload, std::string* change) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::OpenPaymentRequest>(payload));
  MPAY_RETURN_IF_ERROR(checkPaymentFields(req));
  MPAY_ASSIGN_OR_RETURN(auto user, ctx.prepared->userCertificates(ctx.token.platform())->verify(req.certificate));
  if (user.phone != req.phone) return fail(ErrorCode::kMismatch, "phone differs from the certificate");
  if (!ctx.state) return fail(ErrorCode::kInternal, "no signer state");
  StateSteps steps;
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) { return openPayment(ctx, lane, req, user, steps, change); });
}

Result<Bytes> handleSignReceipt(OpContext& ctx, ByteView payload, std::string* change) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::SignReceiptRequest>(payload));
  if (req.result != 1 && req.result != 2) return fail(ErrorCode::kBadField, "result");
  if (!suite::validOrderNo(req.order_no) || !suite::validPhone(req.phone) || !suite::validCurrency(req.currency) ||
      req.transaction_no.empty() || !suite::validOrderNo(req.transaction_no))
    return fail(ErrorCode::kBadField, "receipt fields");
  if (!ctx.state) return fail(ErrorCode::kInternal, "no signer state");
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) { return signReceipt(ctx, lane, req, change); });
}

}  // namespace mpay::signer
