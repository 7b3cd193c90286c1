// Confirmation codes through an SMS provider's webhook, with the gateway
// sandboxed as it runs on the appliance: its secret is read before the
// sandbox (policy/gateway.fs does not name it), deliveries are signed, and a
// refused delivery is retried until the provider takes it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "gateway/notifier.h"
#include "support/running_appliance.h"
#include "support/webhook_receiver.h"

namespace mpay {
namespace {

constexpr char kSecret[] = "a webhook secret of the SMS provider";

std::string registerPhone(const test::RunningAppliance& app, const std::string& device, const std::string& phone) {
  auto reg = app.client(device, "register --phone '" + phone + "' --imei 356938035643809 --sim 89860012345678901234"
                                " --password '" + std::string(test::kPassword) + "' --pin " + test::kPin +
                                " --name 'Zhang San' --id-number 110101199003070000 --json");
  EXPECT_EQ(reg.exit_code, 0) << reg.output;
  return test::jsonField(reg.output, "registration_code");
}

// The code of the last delivery to `phone` the provider accepted, waiting up to `seconds`.
std::string deliveredCode(const test::WebhookReceiver& receiver, const std::string& phone, int seconds,
                          std::size_t at_least = 1) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = receiver.deliveries();
    for (auto it = got.rbegin(); got.size() >= at_least && it != got.rend(); ++it) {
      if (!it->answered_ok || test::jsonField(it->body, "phone") != phone) continue;
      EXPECT_EQ(it->signature, gateway::webhookSignature(asBytes(std::string(kSecret)), it->body));
      return test::jsonField(it->body, "code");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

class WebhookE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    // Readable by the gateway's account, which mpayd hands the file to.
    ASSERT_EQ(::chmod(secret_dir_.path().c_str(), 0755), 0);
    secret_file_ = secret_dir_.path() + "/webhook.secret";
    std::ofstream(secret_file_) << kSecret << "\n";
  }
  std::string settings() const {
    return "gateway.webhook_url = " + receiver_.url() + "\ngateway.webhook_secret_file = " + secret_file_ + "\n";
  }

  test::WebhookReceiver receiver_;
  test::TempDir secret_dir_;
  std::string secret_file_;
};

TEST_F(WebhookE2E, TheSandboxedGatewaySignsTheCodeItSendsAndThePhoneActivatesWithIt) {
  test::RunningAppliance app(settings());
  const std::string phone = "+8613800138101";
  const std::string registration_code = registerPhone(app, "alice", phone);
  const std::string code = deliveredCode(receiver_, phone, 10);
  ASSERT_EQ(code.size(), 8u) << app.log();
  auto act = app.client("alice", "activate --registration-code " + registration_code + " --confirmation-code " + code);
  EXPECT_EQ(act.exit_code, 0) << act.output;
}

TEST_F(WebhookE2E, WhileTheProviderHangsRegistrationsDoNotWaitForItAndItsCodesFollowOnceItAnswers) {
  receiver_.holdFor(std::chrono::seconds(12));
  test::RunningAppliance app(settings());
  // The first registration waits for the webhook's timeout and finds the provider failing...
  registerPhone(app, "first", "+8613800138103");
  // ... the next ones do not wait for it.
  const auto started = std::chrono::steady_clock::now();
  const std::string registration_code = registerPhone(app, "second", "+8613800138104");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4))
      << "a registration waited for a provider known to be failing";
  receiver_.holdFor(std::chrono::seconds(0));
  const std::string code = deliveredCode(receiver_, "+8613800138104", 40);
  ASSERT_FALSE(code.empty()) << "the waiting code was not sent once the provider answered\n" << app.log();
  auto act = app.client("second", "activate --registration-code " + registration_code + " --confirmation-code " + code);
  EXPECT_EQ(act.exit_code, 0) << act.output;
}

TEST_F(WebhookE2E, ADeliveryTheProviderRefusesIsRetriedUntilItIsTaken) {
  receiver_.answerWith(503);
  test::RunningAppliance app(settings());
  const std::string phone = "+8613800138102";
  const std::string registration_code = registerPhone(app, "bob", phone);
  ASSERT_FALSE(receiver_.deliveries().empty()) << "the first try happens during the registration";
  const std::size_t refused = receiver_.deliveries().size();
  receiver_.answerWith(200);
  const std::string code = deliveredCode(receiver_, phone, 20, refused + 1);
  ASSERT_FALSE(code.empty()) << "no retry after the provider recovered\n" << app.log();
  const std::size_t taken = receiver_.deliveries().size();
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_EQ(receiver_.deliveries().size(), taken) << "a delivered code is not sent again";
  auto act = app.client("bob", "activate --registration-code " + registration_code + " --confirmation-code " + code);
  EXPECT_EQ(act.exit_code, 0) << act.output;
}

}  // namespace
}  // namespace mpay
