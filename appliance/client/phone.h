// The phone side of suite mpay-v1 (docs/protocol.md), as a library: what a
// bank's app does, step by step. mpay-client and the tests are built on it.
// Randomness is a parameter so that the protocol test vectors can fix it.
#pragma once
#include "ca/certificate.h"
#include <functional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "suite/certificate_file.h"
#include "suite/ec.h"
#include "suite/messages.h"

namespace mpay::client {

using RandomFn = std::function<Bytes(std::size_t)>;
RandomFn systemRandom();  // OpenSSL's CSPRNG

// S02: info1 sealed to the service key.
Result<Bytes> sealInfo1(const suite::EcPublicKey& service, const suite::Info1& info, const RandomFn& random);

// S08-S09: check the registration file's MAC with both codes, then open the
// certificate file with info3. Returns the PKCS#12 bytes and what it holds.
struct ActivatedCredential {
  Bytes certificate_file;
  suite::OpenedCertificateFile opened;
};
Result<ActivatedCredential> activate(ByteView registration_file, std::string_view registration_code,
                                     std::string_view confirmation_code, const Secret& info3);

// S34: K, the login signature, C1 and C2.
struct LoginMessage {
  Secret k;  // kept by the phone to check the digest in S39
  Bytes c1, c2;
};
Result<LoginMessage> buildLogin(const suite::EcPublicKey& service, const suite::EcPrivateKey& user_key,
                                std::string_view phone, const Secret& password, std::uint64_t timestamp,
                                ByteView nonce, const RandomFn& random);

// S39: open the keys with the user's key and check the digest with K.
Result<suite::LoginKeys> openLoginKeys(const suite::EcPrivateKey& user_key, ByteView sealed_keys, const Secret& k);

// S44-S45: PIN ciphertext, payment signature, and for critical payments the
// content and PIN ciphertext under the message key.
struct PaymentInput {
  std::string order_no, phone;
  std::uint64_t amount_minor = 0;
  std::string currency, content;
  bool critical = false;
  std::uint64_t counter = 0, timestamp = 0;
};
struct PaymentMessage {
  suite::PaymentFields signed_fields;  // what the signature covers (content and PIN ciphertext in clear)
  Bytes signature;
  Bytes critical_ciphertext;           // empty unless critical
};
Result<PaymentMessage> buildPayment(const PaymentInput& input, const Secret& pin, const suite::LoginKeys& keys,
                                    const suite::EcPrivateKey& user_key, const RandomFn& random);

// S46: the receipt's signature under the receipt certificate, chained to the CA.
Result<suite::Receipt> verifyReceipt(ByteView receipt_bytes, ByteView signature_der, ByteView receipt_cert_der,
                                     ByteView ca_cert_der);
// The same with each published receipt certificate in turn (a rotation
// publishes the next one before it signs, and keeps older ones): the first
// that chains to the CA, is unexpired and verifies the signature.
Result<suite::Receipt> verifyReceiptByAny(ByteView receipt_bytes, ByteView signature_der,
                                          const std::vector<Bytes>& receipt_certs, ByteView ca_cert_der);
// After a CA rotation: chained to any CA the phone trusts, through the
// published link certificates.
Result<suite::Receipt> verifyReceiptByAny(ByteView receipt_bytes, ByteView signature_der,
                                          const std::vector<Bytes>& receipt_certs, const ca::CaTrust& trust);

}  // namespace mpay::client
