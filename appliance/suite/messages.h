// The bytes of suite mpay-v1 that are signed, MACed, sealed or encrypted.
// Both sides build them here (the signer, and the phone in mpay-client), so
// docs/protocol.md describes one implementation, and the test vectors in
// tests/unit/protocol_vectors_test.cpp pin it.
//
// Notation: field(x) = u16 big-endian length || x; u64 = 8 bytes big-endian.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace mpay::suite {

inline constexpr std::string_view kSuiteId = "mpay-v1";

// Context labels: one per message type (docs/protocol.md, "Labels").
namespace label {
inline constexpr std::string_view kRegister = "mpay-v1/register";          // ECIES info1 -> service key
inline constexpr std::string_view kLoginKey = "mpay-v1/login/k";           // ECIES K -> service key (C2)
inline constexpr std::string_view kLoginC1 = "mpay-v1/login/c1";           // AES-GCM AAD of C1
inline constexpr std::string_view kLoginSignature = "mpay-v1/login/signature";
inline constexpr std::string_view kLoginDigest = "mpay-v1/login/digest";   // HMAC(K, ...)
inline constexpr std::string_view kLoginKeys = "mpay-v1/login/keys";       // ECIES keys -> user key
inline constexpr std::string_view kPin = "mpay-v1/pay/pin";                // AES-GCM AAD, PIN protection key
inline constexpr std::string_view kPaySignature = "mpay-v1/pay/signature";
inline constexpr std::string_view kPayCritical = "mpay-v1/pay/critical";   // AES-GCM AAD, message key
inline constexpr std::string_view kRegfileMacKey = "mpay-v1/regfile/mac-key";  // HKDF info
inline constexpr std::string_view kRegfile = "mpay-v1/regfile";            // HMAC input prefix
inline constexpr std::string_view kConfirmKey = "mpay-v1/confirm/key";     // HKDF info of the confirmation proof key
inline constexpr std::string_view kConfirm = "mpay-v1/confirm";            // HMAC input prefix of the proof
inline constexpr std::string_view kPasswordVerifier = "mpay-v1/verifier/password";
inline constexpr std::string_view kPinVerifier = "mpay-v1/verifier/pin";
inline constexpr std::string_view kIdentity = "mpay-v1/storage/identity";  // AES-GCM AAD, KEK
inline constexpr std::string_view kSessionKeys = "mpay-v1/storage/session-keys";  // AES-GCM AAD, KEK
inline constexpr std::string_view kPermit = "mpay-v1/permit";              // HMAC, permit key
inline constexpr std::string_view kReceipt = "mpay-v1/receipt";            // ECDSA, receipt key
inline constexpr std::string_view kServiceKey = "mpay-v1/service-key";     // ECDSA, CA key: a rotated service key
}  // namespace label

inline constexpr std::size_t kKeyLen = 32;         // K, message key, PIN protection key
inline constexpr std::size_t kSessionIdLen = 16;
inline constexpr std::size_t kNonceLen = 16;
inline constexpr std::size_t kSaltLen = 16;
inline constexpr std::size_t kMaxContentLen = 1024;
inline constexpr std::uint64_t kSessionLifetimeSeconds = 900;
// A permit lets the receipt of its payment be signed until then; the
// appliance completes orders whose outcome was unknown within this time.
inline constexpr std::uint64_t kPermitLifetimeSeconds = 86400;
// Amounts and counters stay within what every JSON parser holds exactly
// (IEEE 754 doubles: 2^53 - 1), so no party can read another value than the signed one.
inline constexpr std::uint64_t kMaxAmountMinor = (std::uint64_t{1} << 53) - 1;
inline constexpr std::uint64_t kMaxCounter = (std::uint64_t{1} << 53) - 1;

// Field rules (docs/protocol.md, "Field rules").
bool validPhone(std::string_view s);      // '+' then 6..15 digits (E.164)
bool validImei(std::string_view s);       // 14..16 digits
bool validSim(std::string_view s);        // ICCID: 18..22 digits
bool validPassword(std::string_view s);   // 8..64 printable ASCII
bool validPin(std::string_view s);        // 6 digits
bool validName(std::string_view s);       // 1..64 bytes UTF-8, no control characters
bool validIdNumber(std::string_view s);   // 1..32 [0-9A-Za-z]
bool validOrderNo(std::string_view s);    // 1..64 [0-9A-Za-z_-]
bool validCurrency(std::string_view s);   // ISO 4217 alpha: 3 upper-case letters
inline bool validAmount(std::uint64_t minor) { return minor >= 1 && minor <= kMaxAmountMinor; }
bool validContent(std::string_view s);    // 0..1024 bytes UTF-8, no control characters

// info1 (S02): what the phone seals to the service key at registration.
struct Info1 {
  std::string phone, imei, sim;
  Secret password, pin;
  std::string name, id_number;
};
Secret encodeInfo1(const Info1& info);
Result<Info1> parseInfo1(const Secret& plaintext);

// info3 (S06, S32): the PKCS#12 password, "phone:imei:sim:password".
Secret info3Password(std::string_view phone, std::string_view imei, std::string_view sim,
                     const Secret& password);

// Registration file (S06): field(p12) || HMAC-SHA256(mac key, field(label) || field(p12)),
// mac key = HKDF-SHA256(field(registration code) || field(confirmation code), "", kRegfileMacKey).
Result<Bytes> buildRegistrationFile(ByteView p12, std::string_view registration_code,
                                    std::string_view confirmation_code);
// S08: returns the PKCS#12 bytes only if the MAC verifies.
// Possession of the SMS, proven to the platform (activation, after S08):
// HMAC-SHA256(key, field(kConfirm) || field(phone) || field(SHA-256(p12))),
// key = HKDF-SHA256(field(registration code) || field(confirmation code), "", kConfirmKey).
Result<Bytes> confirmationProof(std::string_view phone, ByteView p12, std::string_view registration_code,
                                std::string_view confirmation_code);
Result<Bytes> openRegistrationFile(ByteView file, std::string_view registration_code,
                                   std::string_view confirmation_code);

// Login (S34). Signed: field(label) || field(K) || field(phone) || field(password) || u64 ts || field(nonce).
Secret loginSignedBytes(const Secret& k, std::string_view phone, const Secret& password,
                        std::uint64_t timestamp, ByteView nonce);
// C1 plaintext: field(phone) || field(password) || u64 ts || field(nonce) || field(signature).
struct LoginC1 {
  std::string phone;
  Secret password;
  std::uint64_t timestamp = 0;
  Bytes nonce;
  Bytes signature;
};
Secret encodeLoginC1(const LoginC1& c1);
Result<LoginC1> parseLoginC1(const Secret& plaintext);

// S37: digest = HMAC(K, field(label) || field(message key) || field(PIN key) || field(session id)).
Secret loginDigestInput(const Secret& message_key, const Secret& pin_key, ByteView session_id);
// S38 plaintext: field(message key) || field(PIN key) || field(session id) || field(digest).
struct LoginKeys {
  Secret message_key, pin_key;
  Bytes session_id, digest;
};
Secret encodeLoginKeys(const LoginKeys& keys);
Result<LoginKeys> parseLoginKeys(const Secret& plaintext);

// Payment (S44-S45).
Bytes pinAad(ByteView session_id, std::string_view order_no);
Bytes criticalAad(ByteView session_id, std::string_view order_no, std::string_view phone);
struct PaymentFields {
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency, content;
  Bytes pin_ciphertext;  // iv || ct || tag under the PIN protection key
  Bytes session_id;
  std::uint64_t counter = 0, timestamp = 0;
};
Bytes paymentSignedBytes(const PaymentFields& p);
// Critical payments: field(content) || field(pin ciphertext), encrypted under the message key.
Bytes encodeCriticalPlaintext(std::string_view content, ByteView pin_ciphertext);
Result<std::pair<std::string, Bytes>> parseCriticalPlaintext(const Secret& plaintext);

// Verifiers (S03): HMAC(verifier key, field(label) || field(phone) || field(salt) || field(secret)).
// user_key: the user's certified public key (uncompressed point): a verifier
// checks a secret only for the key pair it was registered with.
Secret verifierInput(std::string_view label, std::string_view phone, ByteView user_key, ByteView salt,
                     const Secret& secret);

Bytes identityPlaintext(std::string_view name, std::string_view id_number);
Bytes identityAad(std::string_view phone);
Bytes sessionKeysAad(ByteView session_id, std::string_view phone, std::uint64_t expires_at);

// Permit (open payment -> sign receipt).
// epoch: the signer state's (SignerState::epoch); permit_id: its number there.
Bytes permitMacInput(ByteView epoch, std::uint64_t permit_id, std::string_view order_no, std::string_view phone,
                     std::uint64_t amount_minor, std::string_view currency, std::uint64_t expires_at);

// Receipt (S46), signed by the receipt key.
enum class PaymentResult : std::uint8_t { kApproved = 1, kDeclined = 2 };
struct Receipt {
  std::string transaction_no;
  PaymentResult result = PaymentResult::kDeclined;
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency;
  std::uint64_t time = 0;
};
Bytes receiptBytes(const Receipt& r);
// What the CA signs for each service key generation a rotation makes, so
// that a phone follows a new service key only when its CA vouches for it:
// field(label::kServiceKey) || u64(generation) || field(point).
Bytes serviceKeyEndorsementBytes(std::uint64_t generation, ByteView point);
Result<Receipt> parseReceiptBytes(ByteView bytes);

}  // namespace mpay::suite
