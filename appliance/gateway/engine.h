// The matching engine (patent ④): each API call's business logic. It holds
// no secret: the phone's secrets travel sealed to token keys, and the signer
// answers with verified, typed fields. Rules it enforces (docs/protocol.md,
// "HTTP API"): single-use, expiring, attempt-limited registration codes;
// lockout after repeated wrong passwords or PINs; signed timestamps within
// the replay window; login nonces and payment counters used once; order
// numbers as idempotency keys.
#pragma once
#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

#include "common/config.h"
#include "gateway/acquirer.h"
#include "gateway/json_fields.h"
#include "gateway/notifier.h"
#include "gateway/rate_limiter.h"
#include "gateway/signer_pool.h"
#include "gateway/store.h"

namespace mpay::gateway {

using JsonPtr = Poco::JSON::Object::Ptr;

// A payment request as parsed from JSON, before the signer has checked it.
struct ParsedPayment {
  wire::OpenPaymentRequest request;  // without the user's stored credentials yet
  std::string request_hash;          // SHA-256 over every field, signature included
};

class Engine {
 public:
  Engine(const GatewayConfig& config, Store& store, SignerPool& signer, Notifier& notifier,
         AcquirerConnector& acquirer, std::function<std::int64_t()> now);

  ApiResult<JsonPtr> platform();
  // The signer's platform_info, asked again when the copy is older than 5 s
  // (a key rotation changes it); the last copy while the signer cannot answer.
  ApiResult<wire::PlatformInfoResponse> platformInfo();
  ApiResult<JsonPtr> registerPhone(const JsonFields& body);
  ApiResult<JsonPtr> activate(const JsonFields& body);
  ApiResult<JsonPtr> confirm(const JsonFields& body);
  ApiResult<JsonPtr> login(const JsonFields& body);
  ApiResult<JsonPtr> pay(const JsonFields& body);
  // True only when the signer (and its HSM) and the database answer.
  ApiResult<JsonPtr> health();
  // False until the gateway's start record is in the signer's audit log:
  // until then every request is answered 503 (fail closed, but at once).
  bool ready() const { return ready_; }
  void markReady() { ready_ = true; }
  // Sends the confirmation codes waiting in the outbox (a first try that
  // failed or was skipped, another appliance's that died): a few a pass,
  // while `go_on`, stopping at the first failure. The gateway runs it on a
  // thread of its own, so a hanging SMS provider holds up nothing else.
  void sendWaitingCodes(const std::function<bool()>& go_on);
  // Completes orders whose outcome nobody is working on (the acquirer's
  // answer or the receipt missing, their request gone); returns what is still open.
  ApiResult<Store::OpenOrderCounts> completeOpenOrders();
  // Forgets login counts of numbers without a user once they no longer matter.
  void purgeGuessesWithoutUser();
  // What each verifier key and KEK generation still protects in the database.
  ApiResult<std::vector<GenerationCount>> countKeyGenerations() { return store_.countKeyGenerations(now_()); }
  // KEK rotation: seals up to `limit` identity records of an older KEK
  // generation again under the current one (the signer's rewrap_identity);
  // how many were kept.
  int rewrapIdentities(int limit);

 private:
  ApiStatus limitPhone(const std::string& phone);
  ApiStatus checkFresh(std::uint64_t timestamp) const;
  Result<wire::OpenLoginResponse> openLogin(const UserCredentials& cred, const Bytes& c1, const Bytes& c2,
                                            bool check_only);
  ApiError loginRefusal(const Error& e);
  void keepRenewedVerifier(Store::Verifier which, const std::string& phone, const Bytes& old, const Bytes& renewed,
                           std::uint64_t generation);
  ApiResult<JsonPtr> loginWithoutUser(const std::string& phone, const std::optional<PendingRegistration>& pending,
                                      const Bytes& c1, const Bytes& c2);
  std::int64_t claimSeconds() const;
  // S07's code out of band: queued in the outbox, and sent at once unless
  // the SMS provider failed within the last kNotifierPauseSeconds (then the
  // request does not wait for it: sendWaitingCodes does).
  ApiStatus queueConfirmationCode(const std::string& phone, const std::string& code, std::int64_t expires_at);
  bool sendClaimedCode(const OutboxMessage& message, const OutboxClaim& claim);
  std::atomic<std::int64_t> notifier_failed_at_{0};
  // Nothing (and nothing changed) when `claim` is given and the order was taken first.
  ApiResult<std::optional<wire::OpenPaymentResponse>> verifyPayment(const ParsedPayment& parsed,
                                                                    const TransactionRow* claim);
  ApiResult<JsonPtr> payVerifiedClaim(const ParsedPayment& parsed, TransactionRow claim,
                                      const wire::OpenPaymentResponse& verified);
  ApiResult<JsonPtr> payOpenOrder(const ParsedPayment& parsed);
  ApiStatus awaitVerification(const TransactionRow& claim);
  ApiResult<JsonPtr> awaitOutcome(const std::string& order_no, bool resend);
  ApiResult<JsonPtr> driveOrder(TransactionRow row);
  // Whether the completer takes this order now: one whose permit another
  // appliance's signer issued is left to that appliance for a while.
  bool completeNow(const TransactionRow& row);

  // This appliance's signer state, as named by the permits it issues
  // (from the latest; empty until the first).
  std::mutex own_epoch_mutex_;
  Bytes own_epoch_;

  const GatewayConfig& config_;
  Store& store_;
  SignerPool& signer_;
  Notifier& notifier_;
  AcquirerConnector& acquirer_;
  std::function<std::int64_t()> now_;
  RateLimiter per_phone_;
  std::atomic<bool> ready_{false};
  ApiStatus probeDatabase();
  std::mutex probe_mutex_;
  std::chrono::steady_clock::time_point last_probe_{};
  bool last_probe_ok_ = false;
  std::mutex platform_mutex_;
  std::optional<wire::PlatformInfoResponse> platform_;
  std::string rewrap_after_;  // the background thread's place in the users (rewrapIdentities)
  std::chrono::steady_clock::time_point platform_fetched_;
  bool platform_refreshing_ = false;
};

// Unwraps a signer call's result into the API's error space (logging the detail).
template <typename T>
ApiResult<T> fromSigner(Result<T> r) {
  if (r.ok()) return std::move(r).value();
  return fromSignerError(r.error());
}

}  // namespace mpay::gateway
