// Payment (S41-S46, platform side): one order, one payer, one amount, one
// acquirer transaction and one receipt, whatever the concurrency.
//
// The order row is the lock. The first request for an order claims it
// (state verifying) before the signer checks it; a request whose claim is
// refused drops it again. A verified order is pending: from then on the
// acquirer may have been asked, so every failure answers payment_pending and
// the order is completed later, by a retry of the same payment or by the
// completer (completeOpenOrders), never started twice. Requests that find the
// order taken wait for its outcome: a byte-identical resend at once, another
// request of the same payment after it is verified like the first.
#include <chrono>
#include <thread>

#include "common/bytes.h"
#include "common/log.h"
#include "common/secret.h"
#include "gateway/engine.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

constexpr std::size_t kPermitEpochLen = 16;
// How long the completer leaves another appliance's open order to it (well
// past any request's claim): after that the appliance is taken to be gone.
constexpr std::int64_t kOtherAppliancesGraceSeconds = 60;

JsonPtr object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

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
      !suite::validPhone(r.phone) || !suite::validCurrency(r.currency) || !suite::validAmount(r.amount_minor) ||
      r.counter == 0 || r.counter > suite::kMaxCounter || (!critical && !suite::validContent(r.content)))
    return apiError(ApiCode::kBadField, "a payment field is out of range");
  ByteWriter exact;
  exact.field(r.session_id).field(r.order_no).field(r.phone).u64(r.amount_minor).field(r.currency)
      .u8(r.critical).field(r.content).field(r.pin_ciphertext).field(r.critical_ciphertext).u64(r.counter)
      .u64(r.timestamp).field(r.signature);
  p.request_hash = hexEncode(suite::sha256(exact.bytes()));
  return p;
}

// The idempotency key's content: what the payer signed about the order.
std::string contentKey(const wire::OpenPaymentResponse& v, std::uint8_t critical) {
  ByteWriter w;
  w.field(v.order_no).field(v.phone).u64(v.amount_minor).field(v.currency).u8(critical).field(v.content);
  return hexEncode(suite::sha256(w.bytes()));
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

ApiError pending(const std::string& why) {
  return apiError(ApiCode::kPaymentPending, why + "; the appliance completes the order, repeat the payment to learn the outcome");
}

bool sameOrderTerms(const TransactionRow& row, const wire::OpenPaymentRequest& r) {
  return row.phone == r.phone && row.amount_minor == static_cast<std::int64_t>(r.amount_minor) &&
         row.currency == r.currency;
}

}  // namespace

std::int64_t Engine::claimSeconds() const {
  // Long enough for one verification, one acquirer call and one receipt.
  return (2 * config_.signer_timeout_ms + config_.acquirer_timeout_ms) / 1000 + 5;
}

ApiResult<JsonPtr> Engine::pay(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(ParsedPayment parsed, parsePayment(body));
  const auto& request = parsed.request;
  MPAY_RETURN_IF_ERROR(limitPhone(request.phone));
  MPAY_RETURN_IF_ERROR(checkFresh(request.timestamp));
  // A few rounds: an order seen claimed may be dropped again by a refused request.
  for (int round = 0; round < 4; ++round) {
    MPAY_ASSIGN_OR_RETURN(auto existing, store_.findTransaction(request.order_no));
    if (!existing) {
      TransactionRow claim;
      claim.order_no = request.order_no;
      claim.request_hash = parsed.request_hash;
      claim.phone = request.phone;
      claim.amount_minor = static_cast<std::int64_t>(request.amount_minor);
      claim.currency = request.currency;
      claim.state = "verifying";
      claim.claimed_until = now_() + claimSeconds();
      MPAY_ASSIGN_OR_RETURN(auto verified, verifyPayment(parsed, &claim));
      if (!verified) continue;  // another request claimed the order first
      return payVerifiedClaim(parsed, std::move(claim), *verified);
    }
    // A resend of the very request that holds the order: its outcome.
    if (existing->request_hash == parsed.request_hash) return awaitOutcome(request.order_no, true);
    if (!sameOrderTerms(*existing, request))
      return apiError(ApiCode::kOrderConflict, "order number used for another payment");
    if (existing->state == "verifying") {
      MPAY_RETURN_IF_ERROR(awaitVerification(*existing));
      continue;
    }
    return payOpenOrder(parsed);
  }
  return apiError(ApiCode::kOverloaded, "the order is contended; retry");
}

ApiResult<std::optional<wire::OpenPaymentResponse>> Engine::verifyPayment(const ParsedPayment& parsed,
                                                                          const TransactionRow* claim) {
  wire::OpenPaymentRequest request = parsed.request;
  MPAY_ASSIGN_OR_RETURN(auto session, store_.findSession(request.session_id));
  if (!session || session->phone != request.phone) return apiError(ApiCode::kUnknownSession, "unknown session");
  if (session->expires_at <= now_()) return apiError(ApiCode::kSessionExpired, "session expired");
  MPAY_ASSIGN_OR_RETURN(auto user, store_.findUser(request.phone));
  if (!user) return apiError(ApiCode::kUnknownSession, "unknown session");
  // The counter is spent before the PIN is checked, so a replayed request
  // (even one with a wrong PIN) is refused without reaching the check; the
  // order is claimed in the same transaction.
  Store::PaymentStartRequest start{request.session_id, static_cast<std::int64_t>(request.counter), request.phone,
                                   now_(), now_() + config_.lockout_seconds, config_.lockout_threshold, claim};
  MPAY_ASSIGN_OR_RETURN(auto started, store_.startPayment(start));
  switch (started) {
    case Store::PaymentStart::kStarted: break;
    case Store::PaymentStart::kReplayed: return apiError(ApiCode::kReplayedRequest, "payment counter already used");
    case Store::PaymentStart::kPinLocked: return apiError(ApiCode::kPinLocked, "PIN locked");
    case Store::PaymentStart::kOrderTaken: return std::optional<wire::OpenPaymentResponse>();
  }

  request.certificate = user->credentials.certificate;
  request.salt = user->credentials.salt;
  request.pin_verifier = user->credentials.pin_verifier;
  request.pin_verifier_generation = static_cast<std::uint64_t>(user->credentials.pin_verifier_generation);
  request.wrapped_keys = session->wrapped_keys;
  request.kek_generation = static_cast<std::uint64_t>(session->kek_generation);
  auto opened = signer_.call<wire::OpenPaymentResponse>([&](SignerClient& c) { return c.openPayment(request); });
  if (!opened) {
    // A wrong PIN keeps its attempt spent; any other refusal never reached the PIN.
    if (opened.error().code != ErrorCode::kBadPin)
      MPAY_RETURN_IF_ERROR(store_.returnAttempt(Guess::kPin, request.phone, config_.lockout_threshold));
    if (claim) MPAY_RETURN_IF_ERROR(store_.dropVerifyingClaim(claim->order_no, claim->request_hash));
    log::warn("event=signer_refused op=open_payment code=" + std::string(errorName(opened.error().code)));
    return fromSignerError(opened.error());
  }
  // With a claim, markVerified clears the PIN count in its own transaction.
  if (!claim) MPAY_RETURN_IF_ERROR(store_.clearAttempts(Guess::kPin, request.phone));
  keepRenewedVerifier(Store::Verifier::kPin, request.phone, user->credentials.pin_verifier,
                      opened.value().pin_verifier, opened.value().verifier_generation);
  return std::optional<wire::OpenPaymentResponse>(std::move(opened).value());
}

ApiResult<JsonPtr> Engine::payVerifiedClaim(const ParsedPayment& parsed, TransactionRow row,
                                            const wire::OpenPaymentResponse& verified) {
  row.state = "pending";
  row.content_hash = contentKey(verified, parsed.request.critical);
  row.content = verified.content;
  row.permit = verified.permit;
  if (row.permit.size() >= kPermitEpochLen) {  // every time: the signer's state may have been made anew
    std::lock_guard lock(own_epoch_mutex_);
    own_epoch_.assign(row.permit.begin(), row.permit.begin() + kPermitEpochLen);
  }
  row.claimed_until = now_() + claimSeconds();
  if (auto marked = store_.markVerified(row, now_()); !marked.ok()) {
    // The PIN was right: its count is cleared even though the order is not driven.
    MPAY_RETURN_IF_ERROR(store_.clearAttempts(Guess::kPin, row.phone));
    return apiError(ApiCode::kSignerUnavailable, "verification took too long; retry");
  }
  return driveOrder(std::move(row));
}

ApiResult<JsonPtr> Engine::payOpenOrder(const ParsedPayment& parsed) {
  // Another request holds (or held) the order: this one is a retry of the
  // same payment only if the payer signed the same content.
  MPAY_ASSIGN_OR_RETURN(auto verified, verifyPayment(parsed, nullptr));
  MPAY_ASSIGN_OR_RETURN(auto stored, store_.findTransaction(parsed.request.order_no));
  if (!stored || stored->state == "verifying") return apiError(ApiCode::kOverloaded, "the order is contended; retry");
  if (stored->content_hash != contentKey(*verified, parsed.request.critical))
    return apiError(ApiCode::kOrderConflict, "order number used for another payment");
  return awaitOutcome(stored->order_no, false);
}

ApiStatus Engine::awaitVerification(const TransactionRow& claim) {
  while (now_() < claim.claimed_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    MPAY_ASSIGN_OR_RETURN(auto row, store_.findTransaction(claim.order_no));
    if (!row || row->state != "verifying" || row->request_hash != claim.request_hash) return {};
  }
  // Its claimer died before the acquirer could be asked: the claim goes.
  return store_.dropVerifyingClaim(claim.order_no, claim.request_hash);
}

ApiResult<JsonPtr> Engine::awaitOutcome(const std::string& order_no, bool resend) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(claimSeconds());
  while (true) {
    MPAY_ASSIGN_OR_RETURN(auto row, store_.findTransaction(order_no));
    // The request that held the order was refused; its counter is spent.
    if (!row) {
      if (resend) return apiError(ApiCode::kReplayedRequest, "payment counter already used");
      return apiError(ApiCode::kOverloaded, "the order is contended; retry");
    }
    if (row->final()) return paymentAnswer(*row);
    if (row->state != "verifying") {
      // Open and nobody working on it: this request completes it.
      MPAY_ASSIGN_OR_RETURN(bool mine, store_.reclaimOpenOrder(order_no, now_(), now_() + claimSeconds()));
      if (mine) {
        row->claimed_until = now_() + claimSeconds();
        return driveOrder(std::move(*row));
      }
    } else if (row->claimed_until <= now_()) {
      MPAY_RETURN_IF_ERROR(store_.dropVerifyingClaim(order_no, row->request_hash));
    }
    if (std::chrono::steady_clock::now() >= deadline) return pending("the order's outcome is not known yet");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ApiResult<JsonPtr> Engine::driveOrder(TransactionRow row) {
  // From here the acquirer may have been asked: no failure is anything but pending.
  auto release = [&](const std::string& why) -> ApiError {
    row.state = "unknown";
    row.claimed_until = 0;
    (void)store_.recordOutcome(row, now_());
    log::warn("event=payment_pending order=" + row.order_no + " why=\"" + why + "\"");
    return pending(why);
  };
  auto authorized = acquirer_.authorize({row.order_no, row.phone, static_cast<std::uint64_t>(row.amount_minor),
                                         row.currency, row.content});
  if (!authorized) return release("acquirer did not answer: " + authorized.error().detail);
  row.transaction_no = authorized->transaction_no;
  row.acquirer_result = authorized->approved ? "approved" : "declined";
  // The acquirer's signed values, as it signed them: the signer checks them.
  wire::SignReceiptRequest receipt_request{row.permit,
                                           row.transaction_no,
                                           static_cast<std::uint8_t>(authorized->approved ? 1 : 2),
                                           row.order_no,
                                           row.phone,
                                           static_cast<std::uint64_t>(row.amount_minor),
                                           row.currency,
                                           authorized->time,
                                           authorized->signature};
  auto receipt = signer_.call<wire::SignReceiptResponse>([&](SignerClient& c) { return c.signReceipt(receipt_request); });
  if (!receipt) return release("no receipt: " + std::string(errorName(receipt.error().code)));
  row.state = row.acquirer_result;
  row.receipt = receipt->receipt;
  row.receipt_signature = receipt->signature;
  auto recorded = store_.recordOutcome(row, now_());
  if (!recorded) return release("the outcome could not be stored");
  // Every answer for an order is the stored one (another driver may have been first).
  MPAY_ASSIGN_OR_RETURN(auto stored, store_.findTransaction(row.order_no));
  if (!stored || !stored->final()) return pending("the outcome could not be stored");
  return paymentAnswer(*stored);
}

bool Engine::completeNow(const TransactionRow& row) {
  // A permit: epoch (16 bytes) || u64 number || u64 expires_at || MAC (docs/protocol.md §8.1).
  ByteReader permit(row.permit);
  ByteView epoch;
  std::uint64_t number = 0, expires_at = 0;
  if (!permit.raw(kPermitEpochLen, &epoch) || !permit.u64(&number) || !permit.u64(&expires_at)) return true;
  {
    std::lock_guard lock(own_epoch_mutex_);
    if (own_epoch_.empty() || constantTimeEqual(epoch, own_epoch_)) return true;
  }
  // Another appliance's order: it completes its own unless it is gone; this
  // signer's table of other appliances' permits serves only then (and for a
  // phone's own resend, which is answered wherever it lands).
  const auto issued_at = static_cast<std::int64_t>(expires_at - suite::kPermitLifetimeSeconds);
  return issued_at + kOtherAppliancesGraceSeconds <= now_();
}

ApiResult<Store::OpenOrderCounts> Engine::completeOpenOrders() {
  MPAY_ASSIGN_OR_RETURN(auto open, store_.unclaimedOpenOrders(now_(), 50));
  for (auto& row : open) {
    if (row.state == "verifying") {  // its request died before the acquirer was asked
      (void)store_.dropVerifyingClaim(row.order_no, row.request_hash);
      continue;
    }
    if (!completeNow(row)) continue;
    auto mine = store_.reclaimOpenOrder(row.order_no, now_(), now_() + claimSeconds());
    if (!mine || !mine.value()) continue;
    row.claimed_until = now_() + claimSeconds();
    auto done = driveOrder(row);
    log::info("event=order_completed_by_appliance order=" + row.order_no +
              " result=" + (done ? std::string("final") : std::string("still_pending")));
  }
  return store_.countOpenOrders();
}

ApiResult<JsonPtr> Engine::health() {
  MPAY_RETURN_IF_ERROR(probeDatabase());
  auto health = signer_.call<wire::HealthResponse>([](SignerClient& c) { return c.health(); });
  if (!health || health->state == static_cast<std::uint8_t>(2))
    return apiError(ApiCode::kSignerUnavailable, "signer or HSM unavailable");
  JsonPtr o = object();
  o->set("status", "ok");
  o->set("hsm", health->state == 0 ? "healthy" : "degraded");
  o->set("database", "ok");
  return o;
}

// A write, not a read: a database that answers but cannot commit (its disk
// full) is down for payments. At most one probe a second; callers in
// between get its result.
ApiStatus Engine::probeDatabase() {
  std::lock_guard lock(probe_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_probe_ >= std::chrono::seconds(1)) {
    last_probe_ = now;
    last_probe_ok_ = store_.probeWrite(now_()).ok();
  }
  if (!last_probe_ok_) return apiError(ApiCode::kDatabaseUnavailable, "the database cannot commit");
  return {};
}

}  // namespace mpay::gateway
