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
// Long enough for one pass of kCodesPerPass slow deliveries; a sender that
// dies leaves its claims to the others after this.
constexpr std::int64_t kClaimSeconds = 120;
constexpr int kCodesPerPass = 10;

}  // namespace

ApiStatus Engine::queueConfirmationCode(const std::string& phone, const std::string& code, std::int64_t expires_at) {
  const std::int64_t now = now_();
  const bool send_now = now - notifier_failed_at_.load() >= kNotifierPauseSeconds;
  OutboxMessage message{hexEncode(suite::randomBytes(16)), phone, code};
  MPAY_RETURN_IF_ERROR(store_.addOutbox(message, now, expires_at, send_now ? now + kClaimSeconds : 0));
  if (send_now) (void)sendClaimedCode(message);
  return {};
}

bool Engine::sendClaimedCode(const OutboxMessage& message) {
  if (auto delivered = notifier_.deliver(message); !delivered.ok()) {
    notifier_failed_at_ = now_();
    log::warn("event=confirmation_delivery_failed detail=\"" + delivered.error().detail + "\"");
    (void)store_.releaseOutbox(message.id, now_());
    return false;
  }
  notifier_failed_at_ = 0;
  // Sent. Should the delete fail (the database down), the claim holds it for
  // kClaimSeconds; after that it may be sent once more.
  (void)store_.markDelivered(message.id);
  return true;
}

void Engine::sendWaitingCodes() {
  (void)store_.purgeExpiredOutbox(now_());
  auto claimed = store_.claimOutbox(now_(), now_() + kClaimSeconds, kCodesPerPass);
  if (!claimed) return;
  const auto& codes = claimed.value();
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (sendClaimedCode(codes[i])) continue;
    // The provider is failing: the rest wait for the next pass, free for any appliance.
    for (std::size_t j = i + 1; j < codes.size(); ++j) (void)store_.releaseOutbox(codes[j].id, now_());
    return;
  }
}

}  // namespace mpay::gateway
