// Payment (S41-S46, platform side), health and outbox retries.
#include "common/log.h"
#include "gateway/engine.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

JsonPtr object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

struct ParsedPayment {
  wire::OpenPaymentRequest request;  // without the user's stored credentials yet
  std::string request_hash;          // the idempotency fingerprint
};

ApiResult<ParsedPayment> parsePayment(const JsonFields& body) {
  ParsedPayment p;
  auto& r = p.request;
  MPAY_ASSIGN_OR_RETURN(r.session_id, body.bytes("session_id", suite::kSessionIdLen));
  MPAY_ASSIGN_OR_RETURN(r.order_no, body.text("order_no", 64));
  MPAY_ASSIGN_OR_RETURN(r.phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(r.amount_minor, body.u64("amount_minor"));
  MPAY_ASSIGN_OR_RETURN(r.currency, body.text("currency", 3));
  MPAY_ASSIGN_OR_RETURN(r.counter, body.u64("counter"));
  MPAY_ASSIGN_OR_RETURN(r.timestamp, body.u64("timestamp"));
  MPAY_ASSIGN_OR_RETURN(r.signature, body.bytes("signature", 72));
  const bool critical = body.has("critical_ciphertext");
  if (critical == (body.has("content") || body.has("pin_ciphertext")))
    return apiError(ApiCode::kBadField, "send either content and pin_ciphertext, or critical_ciphertext");
  r.critical = critical ? 1 : 0;
  if (critical) {
    MPAY_ASSIGN_OR_RETURN(r.critical_ciphertext, body.bytes("critical_ciphertext", 1200));
  } else {
    MPAY_ASSIGN_OR_RETURN(r.content, body.text("content", suite::kMaxContentLen));
    MPAY_ASSIGN_OR_RETURN(r.pin_ciphertext, body.bytes("pin_ciphertext", 64));
  }
  if (r.session_id.size() != suite::kSessionIdLen || !suite::validOrderNo(r.order_no) ||
      !suite::validPhone(r.phone) || !suite::validCurrency(r.currency) || r.amount_minor == 0 ||
      (!critical && !suite::validContent(r.content)))
    return apiError(ApiCode::kBadField, "a payment field is out of range");
  ByteWriter fingerprint;
  fingerprint.field(r.session_id).field(r.order_no).field(r.phone).u64(r.amount_minor).field(r.currency)
      .u8(r.critical).field(r.content).field(r.pin_ciphertext).field(r.critical_ciphertext).u64(r.counter)
      .u64(r.timestamp).field(r.signature);
  p.request_hash = hexEncode(suite::sha256(fingerprint.bytes()));
  return p;
}

JsonPtr paymentAnswer(const TransactionRow& t) {
  JsonPtr o = object();
  o->set("order_no", t.order_no);
  o->set("transaction_no", t.transaction_no);
  o->set("result", t.state);
  o->set("amount_minor", t.amount_minor);
  o->set("currency", t.currency);
  o->set("receipt", base64url(t.receipt));
  o->set("receipt_signature", base64url(t.receipt_signature));
  return o;
}

}  // namespace

ApiResult<JsonPtr> Engine::pay(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(ParsedPayment parsed, parsePayment(body));
  auto& request = parsed.request;
  MPAY_RETURN_IF_ERROR(limitPhone(request.phone));

  // The order number is the idempotency key.
  MPAY_ASSIGN_OR_RETURN(auto existing, store_.findTransaction(request.order_no));
  if (existing && existing->request_hash != parsed.request_hash)
    return apiError(ApiCode::kOrderConflict, "order number used for another payment");
  if (existing && (existing->state == "approved" || existing->state == "declined")) return paymentAnswer(*existing);
  const bool retry = existing.has_value();  // same request, outcome not known yet: drive it again

  MPAY_ASSIGN_OR_RETURN(auto session, store_.findSession(request.session_id));
  if (!session || session->phone != request.phone) return apiError(ApiCode::kUnknownSession, "unknown session");
  if (session->expires_at <= now_()) return apiError(ApiCode::kSessionExpired, "session expired");
  MPAY_ASSIGN_OR_RETURN(auto user, store_.findUser(request.phone));
  if (!user) return apiError(ApiCode::kUnknownSession, "unknown session");
  if (user->pin_locked_until > now_()) return apiError(ApiCode::kPinLocked, "PIN locked");
  if (!retry) MPAY_RETURN_IF_ERROR(checkFresh(request.timestamp));

  request.certificate = user->credentials.certificate;
  request.salt = user->credentials.salt;
  request.pin_verifier = user->credentials.pin_verifier;
  request.wrapped_keys = session->wrapped_keys;
  TransactionRow row = existing.value_or(TransactionRow{request.order_no, parsed.request_hash, request.phone,
                                                        static_cast<std::int64_t>(request.amount_minor),
                                                        request.currency, "pending", "", {}, {}});
  return completePayment(request, std::move(row));
}

ApiResult<JsonPtr> Engine::completePayment(const wire::OpenPaymentRequest& request, TransactionRow row) {
  auto opened = signer_.call<wire::OpenPaymentResponse>([&](SignerClient& c) { return c.openPayment(request); });
  if (!opened) {
    if (opened.error().code == ErrorCode::kBadPin)
      MPAY_RETURN_IF_ERROR(store_.recordPinFailure(request.phone, now_() + config_.lockout_seconds,
                                                   config_.lockout_threshold));
    log::warn("event=signer_refused op=open_payment code=" + std::string(errorName(opened.error().code)));
    return fromSignerError(opened.error());
  }
  const auto& verified = opened.value();
  MPAY_RETURN_IF_ERROR(store_.clearPinFailures(request.phone));
  MPAY_ASSIGN_OR_RETURN(auto stored, store_.findTransaction(request.order_no));
  if (!stored) {
    // First time: the counter is spent, then the order is recorded as pending.
    MPAY_ASSIGN_OR_RETURN(bool advanced, store_.advanceCounter(request.session_id, static_cast<std::int64_t>(verified.counter)));
    if (!advanced) return apiError(ApiCode::kReplayedRequest, "payment counter already used");
    MPAY_ASSIGN_OR_RETURN(bool inserted, store_.insertTransaction(row, now_()));
    if (!inserted) return apiError(ApiCode::kOrderConflict, "order number in use");
  }

  auto authorized = acquirer_.authorize({verified.order_no, verified.amount_minor, verified.currency, verified.content});
  if (!authorized) {
    // Outcome unknown: the order stays open; the same request later asks the
    // (idempotent) acquirer again, so the payment is neither lost nor doubled.
    row.state = "unknown";
    MPAY_RETURN_IF_ERROR(store_.updateTransaction(row, now_()));
    log::warn("event=acquirer_unavailable order=" + row.order_no + " detail=\"" + authorized.error().detail + "\"");
    return apiError(ApiCode::kPaymentPending, "acquirer did not answer; repeat the request to learn the outcome");
  }
  wire::SignReceiptRequest receipt_request{verified.permit,
                                           authorized->transaction_no,
                                           static_cast<std::uint8_t>(authorized->approved ? 1 : 2),
                                           verified.order_no,
                                           verified.phone,
                                           verified.amount_minor,
                                           verified.currency,
                                           static_cast<std::uint64_t>(now_())};
  auto receipt = signer_.call<wire::SignReceiptResponse>([&](SignerClient& c) { return c.signReceipt(receipt_request); });
  row.transaction_no = authorized->transaction_no;
  if (!receipt) {
    row.state = "unknown";
    MPAY_RETURN_IF_ERROR(store_.updateTransaction(row, now_()));
    return fromSignerError(receipt.error());
  }
  row.state = authorized->approved ? "approved" : "declined";
  row.receipt = receipt->receipt;
  row.receipt_signature = receipt->signature;
  MPAY_RETURN_IF_ERROR(store_.updateTransaction(row, now_()));
  return paymentAnswer(row);
}

ApiResult<JsonPtr> Engine::health() {
  MPAY_RETURN_IF_ERROR(store_.ping());
  auto health = signer_.call<wire::HealthResponse>([](SignerClient& c) { return c.health(); });
  if (!health || health->state == static_cast<std::uint8_t>(2))
    return apiError(ApiCode::kSignerUnavailable, "signer or HSM unavailable");
  JsonPtr o = object();
  o->set("status", "ok");
  o->set("hsm", health->state == 0 ? "healthy" : "degraded");
  o->set("database", "ok");
  return o;
}

void Engine::retryOutbox() {
  auto pending = store_.pendingOutbox();
  if (!pending) return;
  for (const auto& message : pending.value()) {
    if (notifier_.deliver(message).ok()) (void)store_.markDelivered(message.id, now_());
  }
}

}  // namespace mpay::gateway
