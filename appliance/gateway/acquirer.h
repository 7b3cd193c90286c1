// The acquirer front (claim 9: UnionPay-/Alipay-style interface server).
// The gateway calls POST {acquirer_url}/v1/authorize with
//   {"order_no","phone","amount_minor","currency","content"}
// and gets {"order_no","phone","amount_minor","currency","result":"approved"|"declined",
//           "transaction_no","time","signature"}: the acquirer's ECDSA signature
// over exactly those values (suite/acquirer_answer.h). The gateway cannot
// check it (it holds no acquirer certificate it could be trusted with); the
// signer does, before it signs the receipt.
// The acquirer must be idempotent on order_no: asking again for an order it
// has seen returns the first answer, so a retry after a timeout can never
// charge twice.
#pragma once
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace mpay::gateway {

struct AuthorizationRequest {
  std::string order_no;
  std::string phone;  // the payer
  std::uint64_t amount_minor = 0;
  std::string currency, content;
};

struct AuthorizationResult {
  bool approved = false;
  std::string transaction_no;
  std::uint64_t time = 0;  // the acquirer's, signed: the receipt's time
  Bytes signature;         // DER, for sign_receipt
};

// Errors: kIo when the outcome is unknown (timeout, broken connection, 5xx).
class AcquirerConnector {
 public:
  virtual ~AcquirerConnector() = default;
  virtual Result<AuthorizationResult> authorize(const AuthorizationRequest& request) = 0;
};

Result<std::unique_ptr<AcquirerConnector>> httpAcquirer(const std::string& base_url, int timeout_ms);

}  // namespace mpay::gateway
