// Registration, activation, login and payment through the real signer
// process, with the phone side from appliance/client.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "ca/certificate.h"
#include "suite/ec.h"
#include "support/phone_flow.h"
#include "support/signer_process.h"

namespace mpay {
namespace {

class SignerFlows : public ::testing::Test {
 protected:
  test::DevAppliance appliance_;
  test::SignerProcess signer_{appliance_};
  gateway::SignerClient client_ = signer_.connect();
  test::PhoneFlow phone_{client_};
};

TEST_F(SignerFlows, RegistrationFileOpensWithOpensslAndChainsToTheCa) {
  auto registration = phone_.registerPhone();
  ASSERT_TRUE(registration.ok()) << errorName(registration.error().code);
  EXPECT_EQ(registration->phone, phone_.profile().phone);
  EXPECT_EQ(registration->registration_code.size(), 12u);
  EXPECT_EQ(registration->confirmation_code.size(), 8u);
  ASSERT_TRUE(phone_.activate(registration.value()).ok());

  auto p12 = suite::openRegistrationFile(registration->registration_file, registration->registration_code,
                                         registration->confirmation_code);
  ASSERT_TRUE(p12.ok());
  const std::string dir = appliance_.dir();
  std::ofstream(dir + "/user.p12", std::ios::binary).write(reinterpret_cast<const char*>(p12->data()),
                                                           static_cast<std::streamsize>(p12->size()));
  std::ofstream(dir + "/info3.txt") << phone_.info3().exposeSecretText();
  const std::string pem = dir + "/user.pem";
  const std::string extract = "openssl pkcs12 -in " + dir + "/user.p12 -passin file:" + dir +
                              "/info3.txt -clcerts -nokeys -out " + pem + " 2>/dev/null";
  ASSERT_EQ(std::system(extract.c_str()), 0);
  const std::string key = "openssl pkcs12 -in " + dir + "/user.p12 -passin file:" + dir +
                          "/info3.txt -nocerts -nodes 2>/dev/null | grep -q 'PRIVATE KEY'";
  EXPECT_EQ(std::system(key.c_str()), 0);
  const std::string verify = "openssl verify -CAfile " + appliance_.config().public_dir + "/ca.pem " + pem +
                             " >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  const std::string wrong = "openssl pkcs12 -in " + dir + "/user.p12 -passin pass:wrong -nokeys >/dev/null 2>&1";
  EXPECT_NE(std::system(wrong.c_str()), 0);
  // info2 is in the certificate: phone and SIM serial.
  auto cert = ca::verifyUserCertificate(registration->certificate, phone_.platform().ca_cert);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->phone, phone_.profile().phone);
  EXPECT_EQ(cert->sim, phone_.profile().sim);
}

TEST_F(SignerFlows, TheUserPrivateKeyDoesNotStayInTheToken) {
  ASSERT_TRUE(phone_.enroll().ok());
  // The token holds only the ceremony's objects: the registration's session
  // objects died with its lane's use (destroyed explicitly, checked here by
  // label across a fresh session on the token).
  auto token = appliance_.openToken(1);
  auto found = token->call<bool>([](hsm::Lane& lane) { return lane.session().exists(CKO_PRIVATE_KEY, "mpay-user"); });
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found.value());
}

TEST_F(SignerFlows, LoginAndPaymentsWithReceipts) {
  ASSERT_TRUE(phone_.enroll().ok());
  auto login = phone_.login();
  ASSERT_TRUE(login.ok()) << errorName(login.error().code);
  EXPECT_EQ(login->phone, phone_.profile().phone);
  EXPECT_EQ(login->session_id, phone_.sessionKeys().session_id);

  for (bool critical : {false, true}) {
    const std::string order = critical ? "ORDER-CRIT-1" : "ORDER-1";
    auto req = phone_.paymentRequest(phone_.defaultPayment(order, critical), phone_.profile().pin);
    auto paid = client_.openPayment(req);
    ASSERT_TRUE(paid.ok()) << errorName(paid.error().code);
    EXPECT_EQ(paid->order_no, order);
    EXPECT_EQ(paid->content, "coffee and cake");  // decrypted from the message key for critical ones
    EXPECT_EQ(paid->amount_minor, 1234u);

    wire::SignReceiptRequest rr{paid->permit, "TXN-" + order, 1, order, paid->phone, paid->amount_minor,
                                paid->currency, test::nowSeconds(), {}};
    appliance_.signAsAcquirer(rr);
    auto receipt = client_.signReceipt(rr);
    ASSERT_TRUE(receipt.ok()) << errorName(receipt.error().code);
    auto checked = client::verifyReceipt(receipt->receipt, receipt->signature, phone_.platform().receipt_cert,
                                         phone_.platform().ca_cert);
    ASSERT_TRUE(checked.ok()) << checked.error().detail;
    EXPECT_EQ(checked->order_no, order);
    EXPECT_EQ(checked->result, suite::PaymentResult::kApproved);
    Bytes tampered = receipt->receipt;
    tampered.back() ^= 1;
    EXPECT_FALSE(client::verifyReceipt(tampered, receipt->signature, phone_.platform().receipt_cert,
                                       phone_.platform().ca_cert)
                     .ok());
    // The signer emits low-S signatures only (a low-S-enforcing verifier accepts them all).
    auto raw = suite::derToP1363(receipt->signature).value();
    EXPECT_EQ(suite::lowS(raw).value(), raw);
  }
}

// A user certificate of the same CA never passes as the receipt signer, so
// a phone cannot be shown a "receipt" signed with a user's own key.
TEST_F(SignerFlows, OnlyTheReceiptCertificateSignsReceipts) {
  ASSERT_TRUE(phone_.enroll().ok());
  EXPECT_TRUE(ca::verifyReceiptSigner(phone_.platform().receipt_cert, phone_.platform().ca_cert).ok());
  EXPECT_FALSE(ca::verifyReceiptSigner(phone_.user().certificate, phone_.platform().ca_cert).ok());
  EXPECT_FALSE(ca::verifyReceiptSigner(phone_.platform().ca_cert, phone_.platform().ca_cert).ok());
  // A "receipt" the user signed with its own key, offered with its own certificate.
  Bytes forged = suite::receiptBytes({"SIM9", suite::PaymentResult::kApproved, "ORDER-9", phone_.profile().phone, 100000,
                                    "CNY", test::nowSeconds()});
  auto signature = phone_.userKey().signDer(forged).value();
  EXPECT_FALSE(client::verifyReceipt(forged, signature, phone_.user().certificate, phone_.platform().ca_cert).ok());
}

TEST_F(SignerFlows, WrongPasswordAndWrongPinAreRefused) {
  ASSERT_TRUE(phone_.enroll().ok());
  auto bad_login = phone_.login("not the password");
  ASSERT_FALSE(bad_login.ok());
  EXPECT_EQ(bad_login.error().code, ErrorCode::kBadPassword);
  ASSERT_TRUE(phone_.login().ok());
  auto req = phone_.paymentRequest(phone_.defaultPayment("ORDER-PIN"), "135790");
  auto paid = client_.openPayment(req);
  ASSERT_FALSE(paid.ok());
  EXPECT_EQ(paid.error().code, ErrorCode::kBadPin);
}

TEST_F(SignerFlows, TamperedPaymentsAreRefused) {
  ASSERT_TRUE(phone_.enroll().ok());
  ASSERT_TRUE(phone_.login().ok());
  auto req = phone_.paymentRequest(phone_.defaultPayment("ORDER-T"), phone_.profile().pin);
  auto more = req;
  more.amount_minor = 999999;  // the signature covers the amount
  EXPECT_EQ(client_.openPayment(more).error().code, ErrorCode::kBadSignature);
  auto other_session = req;
  other_session.session_id[0] ^= 1;  // the wrapped keys are bound to the session id
  EXPECT_EQ(client_.openPayment(other_session).error().code, ErrorCode::kDecryptFailed);
  auto forged_keys = req;
  forged_keys.wrapped_keys.back() ^= 1;
  EXPECT_EQ(client_.openPayment(forged_keys).error().code, ErrorCode::kDecryptFailed);
  auto other_phone = req;
  other_phone.phone = "+8613900000000";
  EXPECT_EQ(client_.openPayment(other_phone).error().code, ErrorCode::kMismatch);
  EXPECT_TRUE(client_.openPayment(req).ok());
}

TEST_F(SignerFlows, ForeignCertificatesAndTamperedLoginsAreRefused) {
  ASSERT_TRUE(phone_.enroll().ok());
  // The receipt certificate is issued by the same CA but is not a user certificate.
  wire::OpenLoginRequest req{phone_.platform().receipt_cert, phone_.user().salt, phone_.user().password_verifier,
                             Bytes(64, 1), Bytes(120, 2), 0};
  EXPECT_EQ(client_.openLogin(req).error().code, ErrorCode::kBadCertificate);
  // C2 with an ephemeral point off the curve.
  auto message = client::buildLogin(phone_.serviceKey(), phone_.userKey(), phone_.profile().phone,
                                    Secret::copyOf(phone_.profile().password), test::nowSeconds(), Bytes(16, 7),
                                    client::systemRandom());
  ASSERT_TRUE(message.ok());
  wire::OpenLoginRequest good{phone_.user().certificate, phone_.user().salt, phone_.user().password_verifier,
                              message->c1, message->c2, 0};
  auto off_curve = good;
  off_curve.c2[64] ^= 1;
  EXPECT_EQ(client_.openLogin(off_curve).error().code, ErrorCode::kDecryptFailed);
  auto bad_c1 = good;
  bad_c1.c1.back() ^= 1;
  EXPECT_EQ(client_.openLogin(bad_c1).error().code, ErrorCode::kDecryptFailed);
  EXPECT_TRUE(client_.openLogin(good).ok());
}

// An empty certificate is a number with no user: the signer checks the login
// against its decoy, whose key nobody holds. Even the user's own, correct
// login answers as a foreign key's would; garbage still fails to open.
TEST_F(SignerFlows, ALoginForNobodyIsCheckedAgainstTheDecoy) {
  ASSERT_TRUE(phone_.enroll().ok());
  auto message = client::buildLogin(phone_.serviceKey(), phone_.userKey(), phone_.profile().phone,
                                    Secret::copyOf(phone_.profile().password), test::nowSeconds(), Bytes(16, 9),
                                    client::systemRandom());
  ASSERT_TRUE(message.ok());
  wire::OpenLoginRequest nobody{{}, Bytes(16), Bytes(32), message->c1, message->c2, 0};
  EXPECT_EQ(client_.openLogin(nobody).error().code, ErrorCode::kBadSignature);
  EXPECT_EQ(client_.openLogin(nobody).error().code, ErrorCode::kBadSignature);  // the decoy is kept
  auto garbled = nobody;
  garbled.c1.back() ^= 1;
  EXPECT_EQ(client_.openLogin(garbled).error().code, ErrorCode::kDecryptFailed);
}

}  // namespace
}  // namespace mpay
