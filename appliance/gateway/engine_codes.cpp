// S07's confirmation codes on their way to the SMS provider: through the
// outbox table, so that a code whose delivery failed is sent again, by one
// appliance of a cluster, and never after its registration has expired.
#include "common/log.h"
#include "gateway/engine.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

// While the provider is failing, registrations do not wait for it.
constexpr std::int64_t kNotifierPauseSeconds = 30;
// One delivery takes at most the webhook's three 5 s timeouts (connect,
// send, receive); a claim outlasts it, and is short next to the shortest
// registration_ttl (60 s), so that a sender that dies leaves the code to
// another in time.
constexpr std::int64_t kClaimSeconds = 30;
// A code the provider refused waits this long: one number it always refuses
// does not hold up the codes behind it.
constexpr std::int64_t kRetrySeconds = 10;
constexpr int kCodesPerPass = 10;

OutboxClaim newClaim(std::int64_t now) { return {hexEncode(suite::randomBytes(16)), now + kClaimSeconds}; }

}  // namespace

ApiStatus Engine::queueConfirmationCode(const std::string& phone, const std::string& code, std::int64_t expires_at) {
  const std::int64_t now = now_();
  const bool send_now = now - notifier_failed_at_.load() >= kNotifierPauseSeconds;
  OutboxMessage message{hexEncode(suite::randomBytes(16)), phone, code};
  const OutboxClaim claim = send_now ? newClaim(now) : OutboxClaim{};
  MPAY_RETURN_IF_ERROR(store_.addOutbox(message, now, expires_at, claim));
  if (send_now) (void)sendClaimedCode(message, claim);
  return {};
}

bool Engine::sendClaimedCode(const OutboxMessage& message, const OutboxClaim& claim) {
  if (auto delivered = notifier_.deliver(message); !delivered.ok()) {
    notifier_failed_at_ = now_();
    log::warn("event=confirmation_delivery_failed detail=\"" + delivered.error().detail + "\"");
    (void)store_.releaseOutbox(message.id, claim.by, now_() + kRetrySeconds);
    return false;
  }
  notifier_failed_at_ = 0;
  // Sent. Should the delete fail (the database down), the claim holds it for
  // kClaimSeconds; after that it may be sent once more.
  (void)store_.markDelivered(message.id);
  return true;
}

void Engine::sendWaitingCodes(const std::function<bool()>& go_on) {
  (void)store_.purgeExpiredOutbox(now_());
  // One claim at a time, taken just before its delivery, so that no claim
  // runs out while codes before it are sent.
  for (int sent = 0; sent < kCodesPerPass && go_on(); ++sent) {
    const OutboxClaim claim = newClaim(now_());
    auto claimed = store_.claimOutbox(now_(), claim);
    if (!claimed || !claimed.value()) return;
    // The provider is failing: the rest wait for the next pass.
    if (!sendClaimedCode(*claimed.value(), claim)) return;
  }
}

}  // namespace mpay::gateway
