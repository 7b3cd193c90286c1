// The signer as a compromised gateway meets it: these tests hold the
// gateway's role on the real signer's socket and try each row of
// docs/threat-model.md, "What a compromised gateway can and cannot do" —
// guesses past the lockout (in sequence, in parallel, across a restart),
// replayed logins and payments, receipts the acquirer never signed. Each is
// refused with its own code and leaves an audit record.
#include <gtest/gtest.h>

#include <barrier>
#include <fstream>
#include <iterator>
#include <optional>
#include <chrono>
#include <thread>

#include "admin/signer_state_admin.h"
#include "suite/primitives.h"
#include "support/phone_flow.h"
#include "support/signer_process.h"

namespace mpay {
namespace {

constexpr int kThreshold = 5;  // policy/signer.limits: password_threshold, pin_threshold

class CompromisedGateway : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(phone_.enroll().ok()); }

  void restartSigner() {
    signer_->stop();
    signer_.reset();
    signer_.emplace(appliance_);
    client_.emplace(signer_->connect());  // in place: phone_ keeps its reference
  }
  std::string auditLog() const {
    std::ifstream in(appliance_.config().signer.audit_log);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ErrorCode code(const Result<wire::OpenLoginResponse>& r) { return r.ok() ? ErrorCode::kOk : r.error().code; }
  ErrorCode code(const Result<wire::OpenPaymentResponse>& r) { return r.ok() ? ErrorCode::kOk : r.error().code; }
  // Each request sent on a connection of its own, all released at once.
  template <class Request, class Send>
  std::vector<ErrorCode> together(const std::vector<Request>& requests, Send send) {
    std::vector<ErrorCode> codes(requests.size());
    std::barrier start(static_cast<std::ptrdiff_t>(requests.size()));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < requests.size(); ++i)
      threads.emplace_back([&, i] {
        auto client = signer_->connect();
        start.arrive_and_wait();
        codes[i] = code(send(client, requests[i]));
      });
    for (auto& t : threads) t.join();
    return codes;
  }
  ErrorCode pay(const std::string& order, const std::string& pin) {
    return code(client_->openPayment(phone_.paymentRequest(phone_.defaultPayment(order), pin)));
  }

  test::DevAppliance appliance_;
  std::optional<test::SignerProcess> signer_{std::in_place, appliance_};
  std::optional<gateway::SignerClient> client_{signer_->connect()};
  test::PhoneFlow phone_{*client_};
};

TEST_F(CompromisedGateway, WrongPasswordsPastTheThresholdAreRefusedEvenTheRightOneAndAfterARestart) {
  for (int i = 0; i < kThreshold; ++i) EXPECT_EQ(code(client_->openLogin(phone_.loginRequest("not the password"))), ErrorCode::kBadPassword);
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest("not the password"))), ErrorCode::kPasswordLocked);
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kPasswordLocked);
  restartSigner();  // the lock is on disk
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kPasswordLocked);
  const std::string log = auditLog();
  EXPECT_NE(log.find("\"result\":\"password_locked\""), std::string::npos);
  EXPECT_NE(log.find("password_locked_until="), std::string::npos);
}

TEST_F(CompromisedGateway, ParallelWrongPasswordsGetNoMoreThanTheThresholdOfAnswers) {
  constexpr int kParallel = 12;
  std::vector<wire::OpenLoginRequest> requests;
  for (int i = 0; i < kParallel; ++i) requests.push_back(phone_.loginRequest("not the password " + std::to_string(i)));
  const auto codes = together(requests, [](gateway::SignerClient& c, const auto& r) { return c.openLogin(r); });
  EXPECT_EQ(std::count(codes.begin(), codes.end(), ErrorCode::kBadPassword), kThreshold);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), ErrorCode::kPasswordLocked), kParallel - kThreshold);
}

TEST_F(CompromisedGateway, ParallelWrongPinsGetNoMoreThanTheThresholdOfAnswers) {
  constexpr int kParallel = 12;
  std::vector<wire::OpenPaymentRequest> requests;  // each in a session of its own: no counter races
  for (int i = 0; i < kParallel; ++i) {
    ASSERT_TRUE(phone_.login().ok());
    requests.push_back(phone_.paymentRequest(phone_.defaultPayment("PAR-" + std::to_string(i)), "111111"));
  }
  const auto codes = together(requests, [](gateway::SignerClient& c, const auto& r) { return c.openPayment(r); });
  EXPECT_EQ(std::count(codes.begin(), codes.end(), ErrorCode::kBadPin), kThreshold);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), ErrorCode::kPinLocked), kParallel - kThreshold);
}

TEST_F(CompromisedGateway, WrongPinsPastTheThresholdAreRefusedAcrossARestart) {
  ASSERT_TRUE(phone_.login().ok());
  for (int i = 0; i < kThreshold - 2; ++i) EXPECT_EQ(pay("PIN-A" + std::to_string(i), "111111"), ErrorCode::kBadPin);
  restartSigner();  // the tries are on disk: a restart forgets none
  for (int i = 0; i < 2; ++i) EXPECT_EQ(pay("PIN-B" + std::to_string(i), "111111"), ErrorCode::kBadPin);
  EXPECT_EQ(pay("PIN-C", "111111"), ErrorCode::kPinLocked);
  restartSigner();
  EXPECT_EQ(pay("PIN-D", phone_.profile().pin), ErrorCode::kPinLocked);
  EXPECT_NE(auditLog().find("\"result\":\"pin_locked\""), std::string::npos);
}

TEST_F(CompromisedGateway, ARightSecretClearsTheCount) {
  ASSERT_TRUE(phone_.login().ok());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kThreshold - 1; ++i)
      EXPECT_EQ(pay("CLEAR-" + std::to_string(round) + "-" + std::to_string(i), "111111"), ErrorCode::kBadPin);
    EXPECT_EQ(pay("CLEAR-" + std::to_string(round), phone_.profile().pin), ErrorCode::kOk);
  }
}

TEST_F(CompromisedGateway, ReplayedLoginsAndPaymentsAreRefused) {
  const auto login = phone_.loginRequest(phone_.profile().password);
  EXPECT_EQ(code(client_->openLogin(login)), ErrorCode::kOk);
  EXPECT_EQ(code(client_->openLogin(login)), ErrorCode::kReplayed);  // no second set of session keys
  restartSigner();
  EXPECT_EQ(code(client_->openLogin(login)), ErrorCode::kReplayed);

  ASSERT_TRUE(phone_.login().ok());
  const auto first = phone_.paymentRequest(phone_.defaultPayment("REPLAY-1"), phone_.profile().pin);
  const auto second = phone_.paymentRequest(phone_.defaultPayment("REPLAY-2"), phone_.profile().pin);
  EXPECT_EQ(code(client_->openPayment(second)), ErrorCode::kOk);
  EXPECT_EQ(code(client_->openPayment(second)), ErrorCode::kReplayed);  // no second permit
  EXPECT_EQ(code(client_->openPayment(first)), ErrorCode::kReplayed);   // counters only go up
  restartSigner();
  EXPECT_EQ(code(client_->openPayment(second)), ErrorCode::kReplayed);
  EXPECT_NE(auditLog().find("\"result\":\"replayed\""), std::string::npos);
}

// The gateway sends the SMS, so it can mint a registration for any number
// (docs/threat-model.md). What that certificate cannot do: check a guess
// against the user's verifiers (they are bound to the user's key), or log
// in once the number's owner has (the number is held by that key).
TEST_F(CompromisedGateway, AMintedCertificateCannotUseTheUsersVerifiersOrTakeOverTheNumber) {
  test::PhoneFlow minted{*client_, phone_.profile()};  // the same number, the attacker's key and password
  ASSERT_TRUE(minted.enroll().ok());
  auto with_users_verifier = minted.loginRequest(phone_.profile().password);
  with_users_verifier.salt = phone_.user().salt;
  with_users_verifier.password_verifier = phone_.user().password_verifier;
  EXPECT_EQ(code(client_->openLogin(with_users_verifier)), ErrorCode::kBadPassword);  // the right password, the wrong key

  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kOk);
  EXPECT_EQ(code(client_->openLogin(minted.loginRequest(phone_.profile().password))), ErrorCode::kBadCertificate);
  restartSigner();
  EXPECT_EQ(code(client_->openLogin(minted.loginRequest(phone_.profile().password))), ErrorCode::kBadCertificate);
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kOk);
}

// The honest gateway checks the login of a registration still waiting for
// its SMS proof with check_only: no session keys, and no hold on the number.
TEST_F(CompromisedGateway, ACheckOnlyLoginOpensNoSessionAndHoldsNoNumber) {
  test::PhoneFlow pending{*client_, phone_.profile()};
  ASSERT_TRUE(pending.enroll().ok());
  auto check = pending.loginRequest(phone_.profile().password);
  check.check_only = 1;
  auto checked = client_->openLogin(check);
  ASSERT_TRUE(checked.ok());
  EXPECT_TRUE(checked->sealed_keys.empty());
  EXPECT_TRUE(checked->wrapped_keys.empty());
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kOk);
  check = pending.loginRequest(phone_.profile().password);
  check.check_only = 2;
  EXPECT_EQ(code(client_->openLogin(check)), ErrorCode::kBadField);
}

// A signer that served before does not make a lost state file anew by
// itself: that would forget spent permits and who holds each number.
TEST_F(CompromisedGateway, ALostStateFileStopsTheSignerUntilAnOperatorMakesANewOne) {
  ASSERT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kOk);
  signer_->stop();
  signer_.reset();
  ASSERT_EQ(std::remove(appliance_.config().signer.state_file.c_str()), 0);
  EXPECT_THROW(test::SignerProcess{appliance_}, std::runtime_error);
  auto made = admin::newSignerState(appliance_.config());
  ASSERT_TRUE(made.ok()) << made.error().detail;
  EXPECT_FALSE(admin::newSignerState(appliance_.config()).ok());  // never over an existing file
  signer_.emplace(appliance_);
  client_.emplace(signer_->connect());
  EXPECT_EQ(code(client_->openLogin(phone_.loginRequest(phone_.profile().password))), ErrorCode::kOk);
  EXPECT_NE(auditLog().find("state epoch="), std::string::npos);
}

TEST_F(CompromisedGateway, AStaleLoginIsRefused) {
  auto message = client::buildLogin(phone_.serviceKey(), phone_.userKey(), phone_.profile().phone,
                                    Secret::copyOf(phone_.profile().password), test::nowSeconds() - 3600,
                                    suite::randomBytes(suite::kNonceLen), client::systemRandom());
  ASSERT_TRUE(message.ok());
  wire::OpenLoginRequest old{phone_.user().certificate, phone_.user().salt, phone_.user().password_verifier,
                             message->c1, message->c2, 0};
  EXPECT_EQ(code(client_->openLogin(old)), ErrorCode::kStaleTimestamp);
}

TEST_F(CompromisedGateway, ReceiptsOnlyForWhatTheAcquirerSignedAndOncePerPermit) {
  ASSERT_TRUE(phone_.login().ok());
  auto paid = client_->openPayment(phone_.paymentRequest(phone_.defaultPayment("RCPT-1"), phone_.profile().pin));
  ASSERT_TRUE(paid.ok());
  auto receipt = [&](wire::SignReceiptRequest r) {
    auto answer = client_->signReceipt(r);
    return answer.ok() ? ErrorCode::kOk : answer.error().code;
  };
  wire::SignReceiptRequest declined{paid->permit, "SIM-1", 2, "RCPT-1", paid->phone, paid->amount_minor,
                                    paid->currency, test::nowSeconds(), {}};
  appliance_.signAsAcquirer(declined);
  auto approved_unsigned = declined;
  approved_unsigned.result = 1;
  EXPECT_EQ(receipt(approved_unsigned), ErrorCode::kBadAcquirerAnswer);
  auto cheaper = declined;  // what the acquirer signed for another amount
  cheaper.amount_minor -= 1;
  appliance_.signAsAcquirer(cheaper);
  EXPECT_EQ(receipt(cheaper), ErrorCode::kBadPermit);
  EXPECT_EQ(receipt(declined), ErrorCode::kOk);
  EXPECT_EQ(receipt(declined), ErrorCode::kOk);  // the same answer: the same values again
  auto approved = declined;
  approved.result = 1;
  approved.transaction_no = "SIM-2";
  appliance_.signAsAcquirer(approved);
  EXPECT_EQ(receipt(approved), ErrorCode::kPermitSpent);
  restartSigner();
  EXPECT_EQ(receipt(approved), ErrorCode::kPermitSpent);
  const std::string log = auditLog();
  for (const char* code : {"\"result\":\"bad_acquirer_answer\"", "\"result\":\"permit_spent\"", "\"result\":\"bad_permit\""})
    EXPECT_NE(log.find(code), std::string::npos) << code;
}


TEST_F(CompromisedGateway, RecordsItsStartOnceAProcessEvenOnAnotherConnectionAndAfterASignerRestart) {
  // policy/signer.ops grants record_start 1/s: each try waits out the budget,
  // so what refuses it is the once-a-process rule.
  const auto afterBudget = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); };
  const std::string digest(64, 'a');
  ASSERT_TRUE(client_->recordStart("mpay-gateway", digest).ok());
  afterBudget();
  auto again = client_->recordStart("mpay-gateway", digest);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kReplayed);
  afterBudget();
  auto other = signer_->connect();
  EXPECT_EQ(other.recordStart("mpay-gateway", std::string(64, 'b')).error().code, ErrorCode::kReplayed)
      << "another connection of the same process";
  restartSigner();
  EXPECT_EQ(client_->recordStart("mpay-gateway", digest).error().code, ErrorCode::kReplayed)
      << "the signer's state remembers the process across its restart";
  const std::string log = auditLog();
  std::size_t recorded = 0;
  for (auto at = log.find("started, policy sha256="); at != std::string::npos; at = log.find("started, policy sha256=", at + 1))
    ++recorded;
  EXPECT_EQ(recorded, 1u) << "one start record for this process";
  afterBudget();
  EXPECT_EQ(client_->recordStart("mpay-gateway", "not a digest").error().code, ErrorCode::kBadField)
      << "a malformed request is refused for itself";
}

}  // namespace
}  // namespace mpay
