// Out-of-band delivery of confirmation codes (S07). Two channels:
//  - outbox file (development): one JSON object per line, {"phone","code","id"};
//  - webhook (an SMS gateway): HTTP POST of the same JSON with header
//    X-Mpay-Signature: hex HMAC-SHA256(secret, body).
// Codes pass through the database outbox table: a failed delivery is
// retried, and a delivered code is erased from the table.
#pragma once
#include <memory>
#include <string>

#include "common/config.h"
#include "gateway/store.h"

namespace mpay::gateway {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual Status deliver(const OutboxMessage& message) = 0;
};

std::unique_ptr<Notifier> outboxFileNotifier(std::string path);
Result<std::unique_ptr<Notifier>> webhookNotifier(const std::string& url, const std::string& secret_file,
                                                 int timeout_ms);

// The channel the configuration names: gateway.webhook_url, else gateway.outbox.
Result<std::unique_ptr<Notifier>> notifierFor(const GatewayConfig& g);

std::string webhookSignature(ByteView secret, const std::string& body);

}  // namespace mpay::gateway
