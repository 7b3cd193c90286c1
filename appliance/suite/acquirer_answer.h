// The acquirer's signed answer (docs/protocol.md, "Acquirer interface").
// The acquirer signs, with its own ECDSA P-256 key, exactly the values the
// receipt will carry; the signer verifies the signature against the
// acquirer certificate pinned in its configuration (signer.acquirer_certificate)
// before it signs a receipt, so the gateway cannot turn a decline, an
// unasked payment or another amount into an approved receipt.
#pragma once
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "suite/ec.h"
#include "suite/messages.h"

namespace mpay::suite {

namespace label {
inline constexpr std::string_view kAcquirerAnswer = "mpay-v1/acquirer-answer";  // ECDSA, acquirer key
}

struct AcquirerAnswer {
  std::string order_no;
  std::string phone;  // the payer: a receipt names the payer the acquirer debited
  std::uint64_t amount_minor = 0;
  std::string currency;
  PaymentResult result = PaymentResult::kDeclined;
  std::string transaction_no;
  std::uint64_t time = 0;  // the acquirer's decision, seconds since the epoch; the receipt's time
};

// label || order_no || phone || amount || currency || result || transaction_no || time, in the field encoding.
Bytes acquirerAnswerBytes(const AcquirerAnswer& a);

// The acquirer's public key from its PEM certificate (P-256 only).
Result<EcPublicKey> loadAcquirerCertificate(const std::string& pem_path);
// The simulator's private key (PEM, PKCS#8).
Result<EcPrivateKey> loadAcquirerKey(const std::string& pem_path);
// Development: a new key (mode 0600) and its self-signed certificate, unless
// both files exist already. A real acquirer's key never is on the appliance.
Status makeAcquirerIdentity(const std::string& key_path, const std::string& cert_path);

}  // namespace mpay::suite
