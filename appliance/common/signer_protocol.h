// The signer socket protocol (docs/protocol.md, "Signer socket").
//
// Frame:    u32 length | body                      (length = body size, <= max_frame)
// Request:  u8 version=1 | u16 op | u32 request_id | payload
// Response: u8 version=1 | u16 status | u32 request_id | payload (empty unless status 0)
//
// Each payload is a fixed sequence of fields declared once, in fields(),
// which both encodes and strictly parses it: every length is bounded, and
// trailing bytes are an error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace mpay::wire {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderLen = 7;
inline constexpr std::size_t kMaxCertificate = 2048;
// Receipt certificates published at once (current, next and older ones that
// still verify receipts signed before a rotation).
inline constexpr std::size_t kMaxReceiptCertificates = 8;
// CA certificates the signer honours user certificates of (current, begun,
// older), and the link certificates of CA rotations published, per list.
inline constexpr std::size_t kMaxCaCertificates = 8;
inline constexpr std::size_t kMaxCaLinks = 4;
// A permit: u64 number || u64 expires_at || HMAC-SHA256 (suite::permitMacInput).
inline constexpr std::size_t kPermitLen = 64;  // epoch || number || expires_at || MAC
inline constexpr std::size_t kMaxSealed = 1024;

enum class OpId : std::uint16_t {
  kPlatformInfo = 0x0001,
  kHealth = 0x0002,
  kAuditHead = 0x0003,
  kRecordStart = 0x0004,
  kAuditTail = 0x0005,
  kRecordRotation = 0x0006,
  kOpenRegistration = 0x0010,
  kOpenLogin = 0x0011,
  kOpenPayment = 0x0012,
  kSignReceipt = 0x0013,
  kRewrapIdentity = 0x0014,
  kTestProbe = 0x00f0,  // test builds only (MPAY_TEST_HOOKS): see operation_table.cpp
};

struct RequestHeader {
  std::uint8_t version = 0;
  std::uint16_t op = 0;
  std::uint32_t request_id = 0;
};

Bytes encodeRequest(OpId op, std::uint32_t request_id, ByteView payload);
Bytes encodeResponse(ErrorCode status, std::uint32_t request_id, ByteView payload);
// Splits a request body; false if shorter than the header.
bool parseRequestHeader(ByteView body, RequestHeader* header, ByteView* payload);

// ---- field visitors ----
class FieldWriter {
 public:
  void bytes(const Bytes& b, std::size_t) { w_.field(b); }
  void fixed(const Bytes& b, std::size_t) { w_.field(b); }
  void text(const std::string& s, std::size_t) { w_.field(s); }
  void u64(const std::uint64_t& v) { w_.u64(v); }
  void u8(const std::uint8_t& v) { w_.u8(v); }
  Bytes take() { return w_.take(); }

 private:
  ByteWriter w_;
};

class FieldReader {
 public:
  explicit FieldReader(ByteView in) : r_(in) {}
  void bytes(Bytes& b, std::size_t max) {
    ByteView v;
    ok_ = ok_ && r_.field(&v, max);
    if (ok_) b.assign(v.begin(), v.end());
  }
  void fixed(Bytes& b, std::size_t len) {
    ByteView v;
    ok_ = ok_ && r_.fixedField(&v, len);
    if (ok_) b.assign(v.begin(), v.end());
  }
  void text(std::string& s, std::size_t max) { ok_ = ok_ && r_.text(&s, max); }
  void u64(std::uint64_t& v) { ok_ = ok_ && r_.u64(&v); }
  void u8(std::uint8_t& v) { ok_ = ok_ && r_.u8(&v); }
  bool done() const { return ok_ && r_.empty(); }

 private:
  ByteReader r_;
  bool ok_ = true;
};

template <typename M>
Bytes encodeMessage(const M& message) {
  FieldWriter w;
  const_cast<M&>(message).fields(w);  // fields() only reads when given a writer
  return w.take();
}

template <typename M>
Result<M> parseMessage(ByteView payload) {
  M message;
  FieldReader r(payload);
  message.fields(r);
  if (!r.done()) return fail(ErrorCode::kBadFrame, "payload does not parse");
  return message;
}

// ---- messages ----
struct Empty {
  template <class V> void fields(V&) {}
};

struct PlatformInfoResponse {
  std::string suite;
  Bytes service_point, ca_cert, receipt_cert;
  std::uint64_t service_generation = 1;
  // During a service key rotation's overlap; empty and 0 otherwise.
  Bytes previous_service_point;
  std::uint64_t previous_service_generation = 0, previous_service_until = 0;
  Bytes service_endorsement;  // the CA's DER signature; empty for generation 1
  std::uint64_t receipt_generation = 1;
  // Every published receipt certificate, receipt_cert first
  // (encodeCertificateList: at most kMaxReceiptCertificates).
  Bytes receipt_certificates;
  std::uint64_t verifier_generation = 1;  // for the operator's console; phones never see it
  std::uint64_t kek_generation = 1;       // the gateway re-wraps identity records of older ones
  std::uint64_t ca_generation = 1;        // of ca_cert
  // The cross certificates of the CA rotations (CA g's key certified by CA
  // g-1), newest first, at most kMaxCaLinks (encodeCertificateList).
  Bytes ca_cross_certificates;
  template <class V> void fields(V& v) {
    v.text(suite, 32);
    v.fixed(service_point, 65);
    v.bytes(ca_cert, kMaxCertificate);
    v.bytes(receipt_cert, kMaxCertificate);
    v.u64(service_generation);
    v.bytes(previous_service_point, 65);
    v.u64(previous_service_generation);
    v.u64(previous_service_until);
    v.bytes(service_endorsement, 80);
    v.u64(receipt_generation);
    v.bytes(receipt_certificates, kMaxReceiptCertificates * (kMaxCertificate + 2));
    v.u64(verifier_generation);
    v.u64(kek_generation);
    v.u64(ca_generation);
    v.bytes(ca_cross_certificates, kMaxCaLinks * (kMaxCertificate + 2));
  }
};

// A list of DER certificates as one field: field(cert) for each, in order.
Bytes encodeCertificateList(const std::vector<Bytes>& certificates);
Result<std::vector<Bytes>> decodeCertificateList(ByteView list);

struct HealthResponse {
  std::uint8_t state = 0;  // 0 healthy, 1 degraded, 2 down
  template <class V> void fields(V& v) { v.u8(state); }
};

struct AuditHeadResponse {
  std::uint64_t seq = 0;
  std::string hash;
  template <class V> void fields(V& v) {
    v.u64(seq);
    v.text(hash, 64);
  }
};

// The latest audit records as the console shows them: one compact JSON
// object a line (seq, time, role, op, result, keys, note; a checkpoint's
// note says so), oldest first, each ending in '\n'; at most kMaxAuditTail
// records and, the oldest dropped first, at most kMaxAuditTailBytes (a
// field's length is 16 bits).
inline constexpr std::size_t kMaxAuditTail = 20;
inline constexpr std::size_t kMaxAuditTailBytes = 65535;
struct AuditTailResponse {
  Bytes records;
  template <class V> void fields(V& v) { v.bytes(records, kMaxAuditTailBytes); }
};

// A process's start record for the audit log: its name and the SHA-256 of
// the policy it loaded (64 lowercase hex digits).
struct RecordStartRequest {
  std::string process, policy_sha256;
  template <class V> void fields(V& v) {
    v.text(process, 32);
    v.text(policy_sha256, 64);
  }
};

// One step of a key rotation, written to the audit log before mpay-admin
// changes the token: "<key> <step> <name>=<number>..." (lowercase, digits,
// '_', '=' and spaces; at most 200 bytes).
struct RecordRotationRequest {
  std::string step;
  template <class V> void fields(V& v) { v.text(step, 200); }
};

struct OpenRegistrationRequest {
  Bytes sealed_info1;
  template <class V> void fields(V& v) { v.bytes(sealed_info1, kMaxSealed); }
};

struct OpenRegistrationResponse {
  std::string phone;
  Bytes certificate, salt, password_verifier, pin_verifier, identity;
  std::string registration_code, confirmation_code;
  Bytes registration_file;
  Bytes confirmation_proof;  // what the phone must send to prove it received the SMS
  std::uint64_t verifier_generation = 1;  // of the verifier key both verifiers were made under
  std::uint64_t kek_generation = 1;       // of the KEK the identity record is sealed under
  template <class V> void fields(V& v) {
    v.text(phone, 16);
    v.bytes(certificate, kMaxCertificate);
    v.fixed(salt, 16);
    v.fixed(password_verifier, 32);
    v.fixed(pin_verifier, 32);
    v.bytes(identity, 256);
    v.text(registration_code, 32);
    v.text(confirmation_code, 32);
    v.bytes(registration_file, 16384);
    v.fixed(confirmation_proof, 32);
    v.u64(verifier_generation);
    v.u64(kek_generation);
  }
};

struct OpenLoginRequest {
  Bytes certificate, salt, password_verifier, c1, c2;
  // 1: check the login of a registration whose SMS proof is still missing:
  // every check and every count, but no session and no hold on the number.
  std::uint8_t check_only = 0;
  std::uint64_t password_verifier_generation = 1;  // the verifier key password_verifier was made under
  template <class V> void fields(V& v) {
    v.bytes(certificate, kMaxCertificate);
    v.fixed(salt, 16);
    v.fixed(password_verifier, 32);
    v.bytes(c1, kMaxSealed);
    v.bytes(c2, 256);
    v.u8(check_only);
    v.u64(password_verifier_generation);
  }
};

struct OpenLoginResponse {
  std::string phone;
  std::uint64_t timestamp = 0;
  Bytes nonce, session_id;
  std::uint64_t expires_at = 0;
  Bytes sealed_keys, wrapped_keys;
  // The right password, checked under an older verifier key: its verifier
  // under the current one, for the gateway to keep. Empty and 0 otherwise.
  Bytes password_verifier;
  std::uint64_t verifier_generation = 0;
  std::uint64_t kek_generation = 1;  // of the KEK wrapped_keys are sealed under
  template <class V> void fields(V& v) {
    v.text(phone, 16);
    v.u64(timestamp);
    v.fixed(nonce, 16);
    v.fixed(session_id, 16);
    v.u64(expires_at);
    v.bytes(sealed_keys, kMaxSealed);
    v.bytes(wrapped_keys, 256);
    v.bytes(password_verifier, 32);
    v.u64(verifier_generation);
    v.u64(kek_generation);
  }
};

struct OpenPaymentRequest {
  Bytes certificate, salt, pin_verifier, wrapped_keys, session_id;
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency;
  std::uint8_t critical = 0;  // 1: content and PIN ciphertext travel in critical_ciphertext
  std::string content;
  Bytes pin_ciphertext, critical_ciphertext;
  std::uint64_t counter = 0, timestamp = 0;
  Bytes signature;
  std::uint64_t pin_verifier_generation = 1;  // the verifier key pin_verifier was made under
  std::uint64_t kek_generation = 1;           // the KEK wrapped_keys are sealed under
  template <class V> void fields(V& v) {
    v.bytes(certificate, kMaxCertificate);
    v.fixed(salt, 16);
    v.fixed(pin_verifier, 32);
    v.bytes(wrapped_keys, 256);
    v.fixed(session_id, 16);
    v.text(order_no, 64);
    v.text(phone, 16);
    v.u64(amount_minor);
    v.text(currency, 3);
    v.u8(critical);
    v.text(content, 1024);
    v.bytes(pin_ciphertext, 64);
    v.bytes(critical_ciphertext, 1200);
    v.u64(counter);
    v.u64(timestamp);
    v.bytes(signature, 72);
    v.u64(pin_verifier_generation);
    v.u64(kek_generation);
  }
};

struct OpenPaymentResponse {
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency, content;
  std::uint64_t counter = 0, timestamp = 0;
  Bytes permit;
  // As in OpenLoginResponse, for the PIN.
  Bytes pin_verifier;
  std::uint64_t verifier_generation = 0;
  template <class V> void fields(V& v) {
    v.text(order_no, 64);
    v.text(phone, 16);
    v.u64(amount_minor);
    v.text(currency, 3);
    v.text(content, 1024);
    v.u64(counter);
    v.u64(timestamp);
    v.fixed(permit, kPermitLen);
    v.bytes(pin_verifier, 32);
    v.u64(verifier_generation);
  }
};

struct SignReceiptRequest {
  Bytes permit;
  std::string transaction_no;
  std::uint8_t result = 0;  // 1 approved, 2 declined
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency;
  std::uint64_t time = 0;    // the acquirer's, as it signed it
  Bytes acquirer_signature;  // DER ECDSA over suite::acquirerAnswerBytes
  template <class V> void fields(V& v) {
    v.fixed(permit, kPermitLen);
    v.text(transaction_no, 64);
    v.u8(result);
    v.text(order_no, 64);
    v.text(phone, 16);
    v.u64(amount_minor);
    v.text(currency, 3);
    v.u64(time);
    v.bytes(acquirer_signature, 72);
  }
};

// An identity record (sealed under the KEK of `generation`, AAD
// mpay-v1/storage/identity and the phone) sealed again under the current
// KEK: the old KEK goes once nothing is sealed under it.
struct RewrapIdentityRequest {
  std::string phone;
  Bytes identity;
  std::uint64_t generation = 1;
  template <class V> void fields(V& v) {
    v.text(phone, 16);
    v.bytes(identity, 256);
    v.u64(generation);
  }
};

struct RewrapIdentityResponse {
  Bytes identity;
  std::uint64_t generation = 1;
  template <class V> void fields(V& v) {
    v.bytes(identity, 256);
    v.u64(generation);
  }
};

struct SignReceiptResponse {
  Bytes receipt, signature;
  template <class V> void fields(V& v) {
    v.bytes(receipt, 512);
    v.bytes(signature, 72);
  }
};

}  // namespace mpay::wire
