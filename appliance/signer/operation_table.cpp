#include "signer/operations.h"

#include <array>

namespace mpay::signer {
namespace {

using wire::OpId;

constexpr std::uint8_t kAny = kRoleGateway | kRoleAdmin;

template <class Request>
Result<Bytes> certificateOf(ByteView payload) {
  MPAY_ASSIGN_OR_RETURN(auto request, wire::parseMessage<Request>(payload));
  return std::move(request.certificate);
}

// clang-format off
constexpr std::array kOperations = {
//  id                          name                 max roles     flags                                          keys used                     handler                 purpose   (user for per_user budgets)
  Operation{OpId::kPlatformInfo,     "platform_info",     kAny,         0,                                             "",                           handlePlatformInfo,     "suite id, service public key (its generation, the CA's signature over it, the previous one during an overlap), CA certificate (its generation, the link certificates of CA rotations) and receipt certificates (every published one), the current verifier and KEK generations (S01, S02)"},
  Operation{OpId::kHealth,           "health",            kAny,         0,                                             "",                           handleHealth,           "HSM health: healthy, degraded or down"},
  Operation{OpId::kAuditHead,        "audit_head",        kRoleAdmin,   0,                                             "",                           handleAuditHead,        "sequence and hash of the last audit record, to anchor the chain"},
  Operation{OpId::kRecordStart,      "record_start",      kRoleGateway, kAuditsItsRequest | kOncePerProcess,           "",                           handleRecordStart,      "write the caller's start record (its policy's SHA-256) into the audit log"},
  Operation{OpId::kAuditTail,        "audit_tail",        kAny,         0,                                             "",                           handleAuditTail,        "the latest 20 audit records, each as seq, time, role, op, result, keys and note (no hash, uid, pid or state), for the operator's console"},
  Operation{OpId::kRecordRotation,   "record_rotation",   kRoleAdmin,   kAuditsItsRequest,                             "",                           handleRecordRotation,   "write one step of a key rotation (mpay-admin rotate) into the audit log, before the token changes; the workers take the new generations from the token within 2 s"},
  Operation{OpId::kOpenRegistration, "open_registration", kRoleGateway, kOpensSecrets | kUsesTokenKey,                 "service,verifier,kek,ca",    handleOpenRegistration, "open info1, verifiers, user key pair, certificate, PKCS#12, registration file (S03-S06)"},
  Operation{OpId::kOpenLogin,        "open_login",        kRoleGateway, kOpensSecrets | kUsesTokenKey,                 "service,verifier,kek",       handleOpenLogin,        "open C2 and C1, verify the signature, spend the nonce, take a try (signer.limits), check the password, issue session keys (S36-S38); an empty certificate: checked against the decoy, never a session",  certificateOf<wire::OpenLoginRequest>},
  Operation{OpId::kOpenPayment,      "open_payment",      kRoleGateway, kOpensSecrets | kNeedsSession | kUsesTokenKey, "kek,verifier,permit",        handleOpenPayment,      "unwrap session keys, verify the payment signature, spend the counter, take a try (signer.limits), check the PIN, issue a numbered permit (S46)",  certificateOf<wire::OpenPaymentRequest>},
  Operation{OpId::kSignReceipt,      "sign_receipt",      kRoleGateway, kNeedsPermit | kUsesTokenKey,                  "permit,receipt",             handleSignReceipt,      "verify the acquirer's signed answer for the permit's payment, bind the permit to it, sign exactly its values as the receipt (S46)"},
  Operation{OpId::kRewrapIdentity,   "rewrap_identity",   kRoleGateway, kUsesTokenKey,                                 "kek",                        handleRewrapIdentity,   "seal a stored identity record again under the current KEK (KEK rotation); answers only the new ciphertext"},
#ifdef MPAY_TEST_HOOKS
  // Test builds only: lets the tests prove the sandbox (a forbidden system call, a forbidden file).
  Operation{OpId::kTestProbe,        "test_probe",        kRoleAdmin,   kTestOnly,                                     "",                           handleTestProbe,        "test builds only: try a forbidden system call or open a file"},
#endif
};
// clang-format on

}  // namespace

std::span<const Operation> operations() { return kOperations; }

const Operation* findOperation(std::uint16_t id) {
  for (const auto& op : kOperations)
    if (static_cast<std::uint16_t>(op.id) == id) return &op;
  return nullptr;
}

std::string roleNames(std::uint8_t roles) {
  std::string out;
  if (roles & kRoleGateway) out += "gateway";
  if (roles & kRoleAdmin) out += out.empty() ? "admin" : ",admin";
  return out.empty() ? "none" : out;
}

}  // namespace mpay::signer
