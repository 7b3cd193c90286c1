// Payments end to end: replay, idempotency, and the acquirer's answers.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>

#include <optional>
#include <thread>

#include "support/raw_phone.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

using test::kPassword;
using test::kPin;

class PaymentsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    app_.enroll("phone", "+8613800138010");
    ASSERT_EQ(app_.client("phone", std::string("login --password '") + kPassword + "'").exit_code, 0);
    phone_.emplace(app_, "phone");
  }
  std::string authorizations() { return test::jsonField(app_.acquirerStats().body, "authorizations"); }
  test::RunningAppliance app_;
  std::optional<test::RawPhone> phone_;
};

TEST_F(PaymentsE2E, SameOrderSameRequestGivesTheStoredResultAndDifferentContentConflicts) {
  const std::string body = phone_->payBody("IDEM-1", 1);
  auto first = app_.post("/v1/pay", body);
  ASSERT_EQ(first.status, 200) << first.body;
  auto again = app_.post("/v1/pay", body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(authorizations(), "1");
  auto other = app_.post("/v1/pay", phone_->payBody("IDEM-1", 2, 9999));
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(test::jsonField(other.body, "error"), "order_conflict");
}

TEST_F(PaymentsE2E, ReplayedCounterIsRefused) {
  ASSERT_EQ(app_.post("/v1/pay", phone_->payBody("CTR-1", 5)).status, 200);
  auto replay = app_.post("/v1/pay", phone_->payBody("CTR-2", 5));
  EXPECT_EQ(replay.status, 409) << replay.body;
  EXPECT_EQ(test::jsonField(replay.body, "error"), "replayed_request");
  auto lower = app_.post("/v1/pay", phone_->payBody("CTR-3", 4));
  EXPECT_EQ(test::jsonField(lower.body, "error"), "replayed_request");
  EXPECT_EQ(app_.post("/v1/pay", phone_->payBody("CTR-4", 6)).status, 200);
}

TEST_F(PaymentsE2E, AcquirerDeclinesAreSignedReceipts) {
  ASSERT_EQ(app_.acquirerControl(R"({"decline_orders":["DECLINE-1"],"limit_minor":100000})").status, 200);
  auto declined = app_.post("/v1/pay", phone_->payBody("DECLINE-1", 1));
  ASSERT_EQ(declined.status, 200) << declined.body;
  EXPECT_EQ(test::jsonField(declined.body, "result"), "declined");
  auto over = app_.post("/v1/pay", phone_->payBody("BIG-1", 2, 500000));  // above the limit
  ASSERT_EQ(over.status, 200) << over.body;
  EXPECT_EQ(test::jsonField(over.body, "result"), "declined");
  EXPECT_FALSE(test::jsonField(over.body, "receipt_signature").empty());
}

TEST_F(PaymentsE2E, AcquirerTimeoutLeavesTheOrderPendingAndARetryNeverChargesTwice) {
  ASSERT_EQ(app_.acquirerControl(R"({"delay_ms":2500})").status, 200);
  const std::string body = phone_->payBody("SLOW-1", 1);
  auto first = app_.post("/v1/pay", body);
  EXPECT_EQ(first.status, 504) << first.body;
  EXPECT_EQ(test::jsonField(first.body, "error"), "payment_pending");
  ASSERT_EQ(app_.acquirerControl(R"({"delay_ms":0})").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // the slow call completes at the acquirer
  auto retry = app_.post("/v1/pay", body);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "result"), "approved");
  EXPECT_EQ(authorizations(), "1");
}

// An answer the acquirer's key did not sign (a hostile network between the
// gateway and the acquirer, or a forged front) gets no receipt: the order
// stays open, and is completed once an authentic answer comes back.
TEST_F(PaymentsE2E, AnAcquirerAnswerSignedByAnotherKeyGetsNoReceipt) {
  ASSERT_EQ(app_.acquirerControl(R"({"sign_with_another_key":true})").status, 200);
  const std::string body = phone_->payBody("FORGED-1", 1);
  auto first = app_.post("/v1/pay", body);
  EXPECT_EQ(test::jsonField(first.body, "error"), "payment_pending") << first.body;
  EXPECT_NE(app_.log().find("no receipt: bad_acquirer_answer"), std::string::npos) << app_.log();
  ASSERT_EQ(app_.acquirerControl(R"({"sign_with_another_key":false})").status, 200);
  auto retry = app_.post("/v1/pay", body);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "result"), "approved");
  EXPECT_EQ(authorizations(), "1");
}

TEST_F(PaymentsE2E, AcquirerFailureLeavesTheOrderPendingUntilRetried) {
  ASSERT_EQ(app_.acquirerControl(R"({"fail_next":1})").status, 200);
  const std::string body = phone_->payBody("FAIL-1", 1);
  auto first = app_.post("/v1/pay", body);
  EXPECT_EQ(test::jsonField(first.body, "error"), "payment_pending") << first.body;
  auto retry = app_.post("/v1/pay", body);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "result"), "approved");
  EXPECT_EQ(authorizations(), "1");
}

}  // namespace
}  // namespace mpay
