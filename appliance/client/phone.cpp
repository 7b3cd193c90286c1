#include "client/phone.h"

#include "ca/certificate.h"
#include "suite/ecies.h"
#include "suite/primitives.h"

namespace mpay::client {
namespace {

namespace label = suite::label;

Result<suite::EcPrivateKey> ephemeralFrom(const RandomFn& random) {
  return suite::EcPrivateKey::generate([&](std::size_t n) -> Result<Secret> { return Secret::copyOf(random(n)); });
}

// iv || AES-256-GCM(key, iv, aad, plaintext) || tag
Result<Bytes> gcmSealWithIv(ByteView key, ByteView aad, ByteView plaintext, const RandomFn& random) {
  Bytes iv = random(suite::kGcmIvLen);
  MPAY_ASSIGN_OR_RETURN(Bytes ct, suite::aesGcmSeal(key, iv, aad, plaintext));
  iv.insert(iv.end(), ct.begin(), ct.end());
  return iv;
}

}  // namespace

RandomFn systemRandom() {
  return [](std::size_t n) { return suite::randomBytes(n); };
}

Result<Bytes> sealInfo1(const suite::EcPublicKey& service, const suite::Info1& info, const RandomFn& random) {
  MPAY_ASSIGN_OR_RETURN(suite::EcPrivateKey ephemeral, ephemeralFrom(random));
  Secret plaintext = suite::encodeInfo1(info);
  return suite::eciesSeal(service, label::kRegister, plaintext.exposeSecret(), ephemeral);
}

Result<ActivatedCredential> activate(ByteView registration_file, std::string_view registration_code,
                                     std::string_view confirmation_code, const Secret& info3) {
  MPAY_ASSIGN_OR_RETURN(Bytes p12, suite::openRegistrationFile(registration_file, registration_code, confirmation_code));
  MPAY_ASSIGN_OR_RETURN(suite::OpenedCertificateFile opened, suite::openCertificateFile(p12, info3));
  MPAY_RETURN_IF_ERROR(ca::verifyIssuedBy(opened.user_cert_der, opened.ca_cert_der));
  return ActivatedCredential{std::move(p12), std::move(opened)};
}

Result<LoginMessage> buildLogin(const suite::EcPublicKey& service, const suite::EcPrivateKey& user_key,
                                std::string_view phone, const Secret& password, std::uint64_t timestamp,
                                ByteView nonce, const RandomFn& random) {
  LoginMessage m;
  m.k = Secret::copyOf(random(suite::kKeyLen));
  Secret signed_bytes = suite::loginSignedBytes(m.k, phone, password, timestamp, nonce);
  suite::LoginC1 c1;
  c1.phone = std::string(phone);
  c1.password = Secret::copyOf(password.exposeSecret());
  c1.timestamp = timestamp;
  c1.nonce.assign(nonce.begin(), nonce.end());
  MPAY_ASSIGN_OR_RETURN(c1.signature, user_key.signDer(signed_bytes.exposeSecret()));
  Secret c1_plain = suite::encodeLoginC1(c1);
  MPAY_ASSIGN_OR_RETURN(m.c1, gcmSealWithIv(m.k.exposeSecret(), asBytes(label::kLoginC1), c1_plain.exposeSecret(),
                                            random));
  MPAY_ASSIGN_OR_RETURN(suite::EcPrivateKey ephemeral, ephemeralFrom(random));
  MPAY_ASSIGN_OR_RETURN(m.c2, suite::eciesSeal(service, label::kLoginKey, m.k.exposeSecret(), ephemeral));
  return m;
}

Result<suite::LoginKeys> openLoginKeys(const suite::EcPrivateKey& user_key, ByteView sealed_keys, const Secret& k) {
  MPAY_ASSIGN_OR_RETURN(Secret plain,
                        suite::eciesOpen(user_key.publicKey().point(), label::kLoginKeys, sealed_keys,
                                         [&](const suite::EcPublicKey& e) { return user_key.ecdh(e); }));
  MPAY_ASSIGN_OR_RETURN(suite::LoginKeys keys, suite::parseLoginKeys(plain));
  Secret input = suite::loginDigestInput(keys.message_key, keys.pin_key, keys.session_id);
  MPAY_ASSIGN_OR_RETURN(Bytes digest, suite::hmacSha256(k.exposeSecret(), input.exposeSecret()));
  if (!constantTimeEqual(digest, keys.digest)) return fail(ErrorCode::kMismatch, "login digest does not verify");
  return keys;
}

Result<PaymentMessage> buildPayment(const PaymentInput& in, const Secret& pin, const suite::LoginKeys& keys,
                                    const suite::EcPrivateKey& user_key, const RandomFn& random) {
  PaymentMessage m;
  suite::PaymentFields& f = m.signed_fields;
  f.order_no = in.order_no;
  f.phone = in.phone;
  f.amount_minor = in.amount_minor;
  f.currency = in.currency;
  f.content = in.content;
  f.session_id = keys.session_id;
  f.counter = in.counter;
  f.timestamp = in.timestamp;
  MPAY_ASSIGN_OR_RETURN(f.pin_ciphertext, gcmSealWithIv(keys.pin_key.exposeSecret(),
                                                        suite::pinAad(keys.session_id, in.order_no),
                                                        pin.exposeSecret(), random));
  MPAY_ASSIGN_OR_RETURN(m.signature, user_key.signDer(suite::paymentSignedBytes(f)));
  if (in.critical) {
    Bytes plain = suite::encodeCriticalPlaintext(in.content, f.pin_ciphertext);
    MPAY_ASSIGN_OR_RETURN(m.critical_ciphertext,
                          gcmSealWithIv(keys.message_key.exposeSecret(),
                                        suite::criticalAad(keys.session_id, in.order_no, in.phone), plain, random));
  }
  return m;
}

Result<suite::Receipt> verifyReceipt(ByteView receipt_bytes, ByteView signature_der, ByteView receipt_cert_der,
                                     ByteView ca_cert_der) {
  MPAY_ASSIGN_OR_RETURN(suite::EcPublicKey key, ca::verifyReceiptSigner(receipt_cert_der, ca_cert_der));
  if (!key.verifyDer(receipt_bytes, signature_der)) return fail(ErrorCode::kBadSignature, "receipt signature");
  return suite::parseReceiptBytes(receipt_bytes);
}

Result<suite::Receipt> verifyReceiptByAny(ByteView receipt_bytes, ByteView signature_der,
                                          const std::vector<Bytes>& receipt_certs, ByteView ca_cert_der) {
  return verifyReceiptByAny(receipt_bytes, signature_der, receipt_certs,
                            ca::CaTrust{{Bytes(ca_cert_der.begin(), ca_cert_der.end())}, {}});
}

Result<suite::Receipt> verifyReceiptByAny(ByteView receipt_bytes, ByteView signature_der,
                                          const std::vector<Bytes>& receipt_certs, const ca::CaTrust& trust) {
  Error last = fail(ErrorCode::kBadCertificate, "no receipt certificate");
  for (const auto& cert : receipt_certs) {
    auto key = ca::verifyReceiptSigner(cert, trust);
    if (!key) {
      last = std::move(key).error();
      continue;
    }
    if (key->verifyDer(receipt_bytes, signature_der)) return suite::parseReceiptBytes(receipt_bytes);
    last = fail(ErrorCode::kBadSignature, "receipt signature");
  }
  return last;
}

}  // namespace mpay::client
