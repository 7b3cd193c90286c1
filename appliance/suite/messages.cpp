#include "suite/messages.h"

#include <Poco/TextIterator.h>
#include <Poco/UTF8Encoding.h>

#include <algorithm>

#include "suite/primitives.h"

namespace mpay::suite {
namespace {

bool allDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool lengthIn(std::string_view s, std::size_t lo, std::size_t hi) { return s.size() >= lo && s.size() <= hi; }
bool noControl(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}
// Well-formed UTF-8, as Poco's decoder judges it (invalid sequences decode to -1).
bool validUtf8(std::string_view s) {
  Poco::UTF8Encoding utf8;
  std::string copy(s);
  Poco::TextIterator it(copy, utf8), end(copy);
  for (; it != end; ++it) {
    if (*it < 0) return false;
  }
  return true;
}

// Builders for bytes that contain a secret: the writer's buffer is moved into
// a Secret and the vector wiped.
Secret toSecret(ByteWriter& w) {
  Bytes b = w.take();
  Secret s = Secret::copyOf(b);
  std::fill(b.begin(), b.end(), std::uint8_t{0});
  return s;
}

}  // namespace

bool validPhone(std::string_view s) { return s.size() >= 7 && s.size() <= 16 && s[0] == '+' && allDigits(s.substr(1)); }
bool validImei(std::string_view s) { return lengthIn(s, 14, 16) && allDigits(s); }
bool validSim(std::string_view s) { return lengthIn(s, 18, 22) && allDigits(s); }
bool validPassword(std::string_view s) {
  return lengthIn(s, 8, 64) && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}
bool validPin(std::string_view s) { return s.size() == 6 && allDigits(s); }
bool validName(std::string_view s) { return lengthIn(s, 1, 64) && noControl(s) && validUtf8(s); }
bool validIdNumber(std::string_view s) {
  return lengthIn(s, 1, 32) && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
         });
}
bool validOrderNo(std::string_view s) {
  return lengthIn(s, 1, 64) && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
                  c == '_';
         });
}
bool validCurrency(std::string_view s) {
  return s.size() == 3 && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}
bool validContent(std::string_view s) { return s.size() <= kMaxContentLen && noControl(s) && validUtf8(s); }

Secret encodeInfo1(const Info1& info) {
  ByteWriter w;
  w.field(info.phone).field(info.imei).field(info.sim).field(info.password.exposeSecret())
      .field(info.pin.exposeSecret()).field(info.name).field(info.id_number);
  return toSecret(w);
}

Result<Info1> parseInfo1(const Secret& plaintext) {
  ByteReader r(plaintext.exposeSecret());
  Info1 info;
  ByteView password, pin;
  if (!r.text(&info.phone, 16) || !r.text(&info.imei, 16) || !r.text(&info.sim, 22) || !r.field(&password, 64) ||
      !r.field(&pin, 6) || !r.text(&info.name, 64) || !r.text(&info.id_number, 32) || !r.empty())
    return fail(ErrorCode::kBadFrame, "info1 does not parse");
  info.password = Secret::copyOf(password);
  info.pin = Secret::copyOf(pin);
  if (!validPhone(info.phone)) return fail(ErrorCode::kBadField, "info1: phone");
  if (!validImei(info.imei)) return fail(ErrorCode::kBadField, "info1: imei");
  if (!validSim(info.sim)) return fail(ErrorCode::kBadField, "info1: sim");
  if (!validPassword(info.password.exposeSecretText())) return fail(ErrorCode::kBadField, "info1: password");
  if (!validPin(info.pin.exposeSecretText())) return fail(ErrorCode::kBadField, "info1: pin");
  if (!validName(info.name)) return fail(ErrorCode::kBadField, "info1: name");
  if (!validIdNumber(info.id_number)) return fail(ErrorCode::kBadField, "info1: id number");
  return info;
}

Secret info3Password(std::string_view phone, std::string_view imei, std::string_view sim, const Secret& password) {
  std::string joined;
  joined.reserve(phone.size() + imei.size() + sim.size() + password.size() + 3);
  joined.append(phone).append(":").append(imei).append(":").append(sim).append(":");
  joined.append(password.exposeSecretText());
  Secret s = Secret::copyOf(joined);
  std::fill(joined.begin(), joined.end(), '\0');
  return s;
}

namespace {
// HMAC under a key derived from both codes: the registration file's MAC and the confirmation proof.
Result<Bytes> macUnderBothCodes(std::string_view key_label, ByteView input, std::string_view registration_code,
                                std::string_view confirmation_code) {
  ByteWriter ikm;
  ikm.field(registration_code).field(confirmation_code);
  MPAY_ASSIGN_OR_RETURN(Secret key, hkdfSha256(ikm.bytes(), {}, asBytes(key_label), kHmacLen));
  return hmacSha256(key.exposeSecret(), input);
}

Result<Bytes> registrationMac(ByteView p12, std::string_view registration_code, std::string_view confirmation_code) {
  ByteWriter input;
  input.field(label::kRegfile).field(p12);
  return macUnderBothCodes(label::kRegfileMacKey, input.bytes(), registration_code, confirmation_code);
}
}  // namespace

Result<Bytes> confirmationProof(std::string_view phone, ByteView p12, std::string_view registration_code,
                                std::string_view confirmation_code) {
  ByteWriter input;
  input.field(label::kConfirm).field(phone).field(sha256(p12));
  return macUnderBothCodes(label::kConfirmKey, input.bytes(), registration_code, confirmation_code);
}

Result<Bytes> buildRegistrationFile(ByteView p12, std::string_view registration_code,
                                    std::string_view confirmation_code) {
  if (p12.size() > 0xffff) return fail(ErrorCode::kInternal, "certificate file too large");
  MPAY_ASSIGN_OR_RETURN(Bytes mac, registrationMac(p12, registration_code, confirmation_code));
  ByteWriter w;
  w.field(p12).raw(mac);
  return w.take();
}

Result<Bytes> openRegistrationFile(ByteView file, std::string_view registration_code,
                                   std::string_view confirmation_code) {
  ByteReader r(file);
  ByteView p12, mac;
  if (!r.field(&p12, 0xffff) || !r.raw(kHmacLen, &mac) || !r.empty())
    return fail(ErrorCode::kBadFrame, "registration file does not parse");
  MPAY_ASSIGN_OR_RETURN(Bytes expected, registrationMac(p12, registration_code, confirmation_code));
  if (!constantTimeEqual(mac, expected)) return fail(ErrorCode::kMismatch, "registration file MAC mismatch");
  return Bytes(p12.begin(), p12.end());
}

Secret loginSignedBytes(const Secret& k, std::string_view phone, const Secret& password, std::uint64_t timestamp,
                        ByteView nonce) {
  ByteWriter w;
  w.field(label::kLoginSignature).field(k.exposeSecret()).field(phone).field(password.exposeSecret())
      .u64(timestamp).field(nonce);
  return toSecret(w);
}

Secret encodeLoginC1(const LoginC1& c1) {
  ByteWriter w;
  w.field(c1.phone).field(c1.password.exposeSecret()).u64(c1.timestamp).field(c1.nonce).field(c1.signature);
  return toSecret(w);
}

Result<LoginC1> parseLoginC1(const Secret& plaintext) {
  ByteReader r(plaintext.exposeSecret());
  LoginC1 c1;
  ByteView password, nonce, signature;
  if (!r.text(&c1.phone, 16) || !r.field(&password, 64) || !r.u64(&c1.timestamp) ||
      !r.fixedField(&nonce, kNonceLen) || !r.field(&signature, 72) || !r.empty())
    return fail(ErrorCode::kBadFrame, "C1 does not parse");
  c1.password = Secret::copyOf(password);
  c1.nonce.assign(nonce.begin(), nonce.end());
  c1.signature.assign(signature.begin(), signature.end());
  if (!validPhone(c1.phone)) return fail(ErrorCode::kBadField, "C1: phone");
  if (!validPassword(c1.password.exposeSecretText())) return fail(ErrorCode::kBadField, "C1: password");
  return c1;
}

Secret loginDigestInput(const Secret& message_key, const Secret& pin_key, ByteView session_id) {
  ByteWriter w;
  w.field(label::kLoginDigest).field(message_key.exposeSecret()).field(pin_key.exposeSecret()).field(session_id);
  return toSecret(w);
}

Secret encodeLoginKeys(const LoginKeys& keys) {
  ByteWriter w;
  w.field(keys.message_key.exposeSecret()).field(keys.pin_key.exposeSecret()).field(keys.session_id)
      .field(keys.digest);
  return toSecret(w);
}

Result<LoginKeys> parseLoginKeys(const Secret& plaintext) {
  ByteReader r(plaintext.exposeSecret());
  ByteView mk, pk, sid, digest;
  if (!r.fixedField(&mk, kKeyLen) || !r.fixedField(&pk, kKeyLen) || !r.fixedField(&sid, kSessionIdLen) ||
      !r.fixedField(&digest, kHmacLen) || !r.empty())
    return fail(ErrorCode::kBadFrame, "login keys do not parse");
  LoginKeys keys;
  keys.message_key = Secret::copyOf(mk);
  keys.pin_key = Secret::copyOf(pk);
  keys.session_id.assign(sid.begin(), sid.end());
  keys.digest.assign(digest.begin(), digest.end());
  return keys;
}

Bytes pinAad(ByteView session_id, std::string_view order_no) {
  ByteWriter w;
  w.field(label::kPin).field(session_id).field(order_no);
  return w.take();
}

Bytes criticalAad(ByteView session_id, std::string_view order_no, std::string_view phone) {
  ByteWriter w;
  w.field(label::kPayCritical).field(session_id).field(order_no).field(phone);
  return w.take();
}

Bytes paymentSignedBytes(const PaymentFields& p) {
  ByteWriter w;
  w.field(label::kPaySignature).field(p.order_no).field(p.phone).u64(p.amount_minor).field(p.currency)
      .field(p.content).field(p.pin_ciphertext).field(p.session_id).u64(p.counter).u64(p.timestamp);
  return w.take();
}

Bytes encodeCriticalPlaintext(std::string_view content, ByteView pin_ciphertext) {
  ByteWriter w;
  w.field(content).field(pin_ciphertext);
  return w.take();
}

Result<std::pair<std::string, Bytes>> parseCriticalPlaintext(const Secret& plaintext) {
  ByteReader r(plaintext.exposeSecret());
  std::string content;
  ByteView pin_ct;
  if (!r.text(&content, kMaxContentLen) || !r.field(&pin_ct, 64) || !r.empty())
    return fail(ErrorCode::kBadFrame, "critical payload does not parse");
  return std::make_pair(std::move(content), Bytes(pin_ct.begin(), pin_ct.end()));
}

Secret verifierInput(std::string_view lbl, std::string_view phone, ByteView user_key, ByteView salt,
                     const Secret& secret) {
  ByteWriter w;
  w.field(lbl).field(phone).field(user_key).field(salt).field(secret.exposeSecret());
  return toSecret(w);
}

Bytes identityPlaintext(std::string_view name, std::string_view id_number) {
  ByteWriter w;
  w.field(name).field(id_number);
  return w.take();
}

Bytes identityAad(std::string_view phone) {
  ByteWriter w;
  w.field(label::kIdentity).field(phone);
  return w.take();
}

Bytes sessionKeysAad(ByteView session_id, std::string_view phone, std::uint64_t expires_at) {
  ByteWriter w;
  w.field(label::kSessionKeys).field(session_id).field(phone).u64(expires_at);
  return w.take();
}

Bytes permitMacInput(ByteView epoch, std::uint64_t permit_id, std::string_view order_no, std::string_view phone,
                     std::uint64_t amount_minor, std::string_view currency, std::uint64_t expires_at) {
  ByteWriter w;
  w.field(label::kPermit).field(epoch).u64(permit_id).field(order_no).field(phone).u64(amount_minor).field(currency).u64(expires_at);
  return w.take();
}

Bytes receiptBytes(const Receipt& r) {
  ByteWriter w;
  w.field(label::kReceipt).field(r.transaction_no).u8(static_cast<std::uint8_t>(r.result)).field(r.order_no)
      .field(r.phone).u64(r.amount_minor).field(r.currency).u64(r.time);
  return w.take();
}

Bytes serviceKeyEndorsementBytes(std::uint64_t generation, ByteView point) {
  ByteWriter w;
  w.field(label::kServiceKey).u64(generation).field(point);
  return w.take();
}

Result<Receipt> parseReceiptBytes(ByteView bytes) {
  ByteReader r(bytes);
  std::string lbl;
  Receipt out;
  std::uint8_t result = 0;
  if (!r.text(&lbl, 64) || lbl != label::kReceipt || !r.text(&out.transaction_no, 64) || !r.u8(&result) ||
      !r.text(&out.order_no, 64) || !r.text(&out.phone, 16) || !r.u64(&out.amount_minor) ||
      !r.text(&out.currency, 3) || !r.u64(&out.time) || !r.empty())
    return fail(ErrorCode::kBadFrame, "receipt does not parse");
  if (result != 1 && result != 2) return fail(ErrorCode::kBadField, "receipt result");
  out.result = static_cast<PaymentResult>(result);
  return out;
}

}  // namespace mpay::suite
