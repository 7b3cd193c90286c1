// open_payment and sign_receipt: patent step S46 on the platform side.
#include "ca/certificate.h"
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
};
Result<SessionKeys> unwrapSessionKeys(OpContext& ctx, const hsm::Lane& lane, const wire::OpenPaymentRequest& req) {
  ByteReader r(req.wrapped_keys);
  std::uint64_t expires_at = 0;
  if (!r.u64(&expires_at)) return fail(ErrorCode::kBadFrame, "wrapped keys");
  if (ctx.now() >= expires_at) return fail(ErrorCode::kSessionExpired, "session keys expired");
  ByteView sealed = ByteView(req.wrapped_keys).subspan(8);
  MPAY_ASSIGN_OR_RETURN(Secret both, lane.open(lane.keys().kek,
                                               suite::sessionKeysAad(req.session_id, req.phone, expires_at), sealed));
  if (both.size() != 2 * suite::kKeyLen) return fail(ErrorCode::kDecryptFailed, "session keys length");
  return SessionKeys{Secret::copyOf(both.exposeSecret().first(suite::kKeyLen)),
                     Secret::copyOf(both.exposeSecret().subspan(suite::kKeyLen))};
}

Result<Secret> gcmOpen(const Secret& key, ByteView blob, ByteView aad) {
  if (blob.size() < suite::kGcmIvLen + suite::kGcmTagLen) return fail(ErrorCode::kDecryptFailed, "too short");
  return suite::aesGcmOpen(key.exposeSecret(), blob.first(suite::kGcmIvLen), aad, blob.subspan(suite::kGcmIvLen));
}

Result<Bytes> permitMac(const hsm::Lane& lane, std::string_view order_no, std::string_view phone,
                        std::uint64_t amount, std::string_view currency, std::uint64_t expires_at) {
  return lane.hmac(lane.keys().permit, suite::permitMacInput(order_no, phone, amount, currency, expires_at));
}

Result<Bytes> openPayment(OpContext& ctx, const hsm::Lane& lane, const wire::OpenPaymentRequest& req,
                          const ca::UserCertificate& user) {
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
  MPAY_ASSIGN_OR_RETURN(Secret pin, gcmOpen(keys.pin_key, pin_ciphertext, suite::pinAad(req.session_id, req.order_no)));
  if (!suite::validPin(pin.exposeSecretText())) return fail(ErrorCode::kBadPin, "PIN format");
  MPAY_ASSIGN_OR_RETURN(Bytes verifier, computeVerifier(lane, label::kPinVerifier, req.phone, req.salt, pin));
  if (!constantTimeEqual(verifier, req.pin_verifier)) return fail(ErrorCode::kBadPin, "PIN");

  wire::OpenPaymentResponse r{req.order_no, req.phone,     req.amount_minor, req.currency,
                              content,      req.counter,   req.timestamp,    {}};
  const std::uint64_t expires_at = ctx.now() + suite::kPermitLifetimeSeconds;
  MPAY_ASSIGN_OR_RETURN(Bytes mac, permitMac(lane, r.order_no, r.phone, r.amount_minor, r.currency, expires_at));
  ByteWriter permit;
  permit.u64(expires_at).raw(mac);
  r.permit = permit.take();
  return wire::encodeMessage(r);
}

Result<Bytes> signReceipt(OpContext& ctx, const hsm::Lane& lane, const wire::SignReceiptRequest& req) {
  ByteReader permit(req.permit);
  std::uint64_t expires_at = 0;
  ByteView mac;
  if (!permit.u64(&expires_at) || !permit.raw(suite::kHmacLen, &mac) || !permit.empty())
    return fail(ErrorCode::kBadPermit, "permit does not parse");
  if (ctx.now() > expires_at) return fail(ErrorCode::kBadPermit, "permit expired");
  MPAY_ASSIGN_OR_RETURN(Bytes expected,
                        permitMac(lane, req.order_no, req.phone, req.amount_minor, req.currency, expires_at));
  if (!constantTimeEqual(mac, expected)) return fail(ErrorCode::kBadPermit, "permit is not for this payment");

  suite::Receipt receipt{req.transaction_no, static_cast<suite::PaymentResult>(req.result),
                         req.order_no,       req.phone,
                         req.amount_minor,   req.currency,
                         req.time};
  Bytes bytes = suite::receiptBytes(receipt);
  MPAY_ASSIGN_OR_RETURN(Bytes token_signature, lane.signDigest(lane.keys().receipt, suite::sha256(bytes)));
  MPAY_ASSIGN_OR_RETURN(Bytes raw, suite::lowS(token_signature));
  // Verify before release: a faulty signature must not leave the appliance.
  const auto& receipt_key = ctx.prepared->receiptKey();
  if (!receipt_key) return receipt_key.error();
  if (!receipt_key->verifyP1363(bytes, raw)) return fail(ErrorCode::kInternal, "receipt signature self-check failed");
  MPAY_ASSIGN_OR_RETURN(Bytes der, suite::p1363ToDer(raw));
  return wire::encodeMessage(wire::SignReceiptResponse{std::move(bytes), std::move(der)});
}

}  // namespace

Result<Bytes> handleOpenPayment(OpContext& ctx, ByteView payload) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::OpenPaymentRequest>(payload));
  MPAY_RETURN_IF_ERROR(checkPaymentFields(req));
  MPAY_ASSIGN_OR_RETURN(auto user, ctx.prepared->userCertificates().verify(req.certificate));
  if (user.phone != req.phone) return fail(ErrorCode::kMismatch, "phone differs from the certificate");
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) { return openPayment(ctx, lane, req, user); });
}

Result<Bytes> handleSignReceipt(OpContext& ctx, ByteView payload) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::SignReceiptRequest>(payload));
  if (req.result != 1 && req.result != 2) return fail(ErrorCode::kBadField, "result");
  if (!suite::validOrderNo(req.order_no) || !suite::validPhone(req.phone) || !suite::validCurrency(req.currency) ||
      req.transaction_no.empty() || !suite::validOrderNo(req.transaction_no))
    return fail(ErrorCode::kBadField, "receipt fields");
  return ctx.token.call<Bytes>([&](hsm::Lane& lane) { return signReceipt(ctx, lane, req); });
}

}  // namespace mpay::signer
