// End to end: mpayd (signer, gateway, acquirer simulator) and mpay-client.
#include <gtest/gtest.h>

#include "suite/messages.h"
#include "support/raw_phone.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

using test::kPassword;
using test::kPin;

class FlowsE2E : public ::testing::Test {
 protected:
  test::RunningAppliance app_;
  std::string pay(const std::string& /*device*/, const std::string& order, const std::string& extra = "") {
    return "pay --password '" + std::string(kPassword) + "' --pin " + kPin + " --order " + order +
           " --amount 12.34 --currency CNY --json " + extra;
  }
  void sql(const std::string& statement) { app_.sql(statement); }
};

TEST_F(FlowsE2E, RegisterActivateLoginPayAndACriticalPayment) {
  auto reg = app_.client("phone", "register --phone +8613800138000 --imei 356938035643809 --sim 89860012345678901234"
                                  " --password 'correct horse 42' --pin 246810 --name 'Zhang San'"
                                  " --id-number 110101199003070000 --json");
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  const std::string rc = test::jsonField(reg.output, "registration_code");
  EXPECT_EQ(rc.size(), 12u) << reg.output;
  EXPECT_EQ(reg.output.find(app_.confirmationCode("+8613800138000")), std::string::npos)
      << "the confirmation code must only go out of band";
  auto act = app_.client("phone", "activate --registration-code " + rc + " --confirmation-code " +
                                      app_.confirmationCode("+8613800138000"));
  ASSERT_EQ(act.exit_code, 0) << act.output;
  auto login = app_.client("phone", "login --password 'correct horse 42'");
  ASSERT_EQ(login.exit_code, 0) << login.output;
  auto paid = app_.client("phone", pay("phone", "ORDER-1"));
  ASSERT_EQ(paid.exit_code, 0) << paid.output;
  EXPECT_EQ(test::jsonField(paid.output, "result"), "approved");
  EXPECT_EQ(test::jsonField(paid.output, "order_no"), "ORDER-1");
  EXPECT_FALSE(test::jsonField(paid.output, "transaction_no").empty());
  auto critical = app_.client("phone", pay("phone", "ORDER-2", "--critical"));
  ASSERT_EQ(critical.exit_code, 0) << critical.output;
  EXPECT_EQ(test::jsonField(critical.output, "result"), "approved");
  auto status = app_.client("phone", "status");
  EXPECT_NE(status.output.find("activated: yes"), std::string::npos);
}

TEST_F(FlowsE2E, WrongPasswordIsRefusedAndRepeatedFailuresLockTheAccount) {
  app_.enroll("phone", "+8613800138001");
  // A wrong password does not even open the certificate file on the phone.
  auto local = app_.client("phone", "login --password 'not the password'");
  EXPECT_EQ(local.exit_code, 1);
  EXPECT_NE(local.output.find("wrong password"), std::string::npos) << local.output;
  // A phone that signs with its real key but sends another password reaches the platform:
  test::RawPhone phone(app_, "phone");
  auto attempt = [&](const std::string& password) { return app_.post("/v1/login", phone.loginBody(password)); };
  for (int i = 0; i < 5; ++i) {
    auto r = attempt("wrong password " + std::to_string(i));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(test::jsonField(r.body, "error"), "bad_credentials");
  }
  auto locked = attempt(kPassword);
  EXPECT_EQ(locked.status, 423) << locked.body;
  EXPECT_EQ(test::jsonField(locked.body, "error"), "account_locked");
}

TEST_F(FlowsE2E, WrongPinIsRefusedAndRepeatedFailuresLockThePin) {
  app_.enroll("phone", "+8613800138002");
  ASSERT_EQ(app_.client("phone", "login --password 'correct horse 42'").exit_code, 0);
  for (int i = 0; i < 5; ++i) {
    auto r = app_.client("phone", "pay --password 'correct horse 42' --pin 135790 --order PIN-" + std::to_string(i) +
                                      " --amount 1 --currency CNY");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("bad_pin"), std::string::npos) << r.output;
  }
  auto locked = app_.client("phone", pay("phone", "PIN-OK"));
  EXPECT_EQ(locked.exit_code, 1);
  EXPECT_NE(locked.output.find("pin_locked"), std::string::npos) << locked.output;
}

TEST_F(FlowsE2E, RegistrationCodesExpireAndAreVoidAfterWrongGuessesAndTheOwnerCanStartAgain) {
  const std::string phone = "+8613800138003";
  const std::string args = "register --phone " + phone + " --imei 356938035643809 --sim 89860012345678901234"
                           " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json";
  auto reg = app_.client("a", args);
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  const std::string rc = test::jsonField(reg.output, "registration_code");
  // Expired.
  sql("UPDATE registrations SET expires_at = 0");
  auto expired = app_.client("a", "activate --registration-code " + rc + " --confirmation-code " + app_.confirmationCode(phone));
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_NE(expired.output.find("registration_expired"), std::string::npos) << expired.output;
  // Register again: wrong codes void it, and then the right one is refused like a wrong one.
  reg = app_.client("a", args);
  ASSERT_EQ(reg.exit_code, 0);
  const std::string rc2 = test::jsonField(reg.output, "registration_code");
  for (int i = 0; i < 5; ++i) {
    auto wrong = app_.client("a", "activate --registration-code 000000000000 --confirmation-code 1");
    EXPECT_NE(wrong.output.find("bad_registration_code"), std::string::npos) << wrong.output;
  }
  auto voided = app_.client("a", "activate --registration-code " + rc2 + " --confirmation-code " + app_.confirmationCode(phone));
  EXPECT_NE(voided.output.find("bad_registration_code"), std::string::npos) << voided.output;
  // Once more: a good code and the SMS activate; then nothing is pending and the number is taken.
  reg = app_.client("a", args);
  const std::string rc3 = test::jsonField(reg.output, "registration_code");
  ASSERT_EQ(app_.client("a", "activate --registration-code " + rc3 + " --confirmation-code " + app_.confirmationCode(phone)).exit_code, 0);
  auto reused = app_.client("a", "activate --registration-code " + rc3 + " --confirmation-code " + app_.confirmationCode(phone));
  EXPECT_EQ(reused.exit_code, 1);
  EXPECT_NE(reused.output.find("bad_registration_code"), std::string::npos) << reused.output;
  auto again = app_.client("b", args);
  EXPECT_NE(again.output.find("already_registered"), std::string::npos) << again.output;
}

TEST_F(FlowsE2E, TamperedRegistrationFileOrWrongConfirmationCodeFailsLoudly) {
  const std::string phone = "+8613800138004";
  auto reg = app_.client("p", "register --phone " + phone + " --imei 356938035643809 --sim 89860012345678901234"
                                  " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json");
  const std::string rc = test::jsonField(reg.output, "registration_code");
  auto wrong = app_.client("p", "activate --registration-code " + rc + " --confirmation-code 00000000");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.output.find("MAC does not verify"), std::string::npos) << wrong.output;
  EXPECT_NE(app_.client("p", "login --password 'correct horse 42'").exit_code, 0) << "nothing was stored";
  // The file as served, with one byte changed, fails the MAC check as well.
  auto file = suite::buildRegistrationFile(asBytes("p12 bytes"), rc, "12345678").value();
  file[5] ^= 1;
  EXPECT_FALSE(suite::openRegistrationFile(file, rc, "12345678").ok());
}

TEST_F(FlowsE2E, ReplayedLoginIsRefused) {
  app_.enroll("phone", "+8613800138005");
  test::RawPhone phone(app_, "phone");
  const std::string body = phone.loginBody();
  auto first = app_.post("/v1/login", body);
  ASSERT_EQ(first.status, 200) << first.body;
  auto replay = app_.post("/v1/login", body);
  EXPECT_EQ(replay.status, 409) << replay.body;
  EXPECT_EQ(test::jsonField(replay.body, "error"), "replayed_request");
  // A stale timestamp, freshly signed, is refused too.
  auto stale = app_.post("/v1/login", phone.loginBody(kPassword, 3600));
  EXPECT_EQ(test::jsonField(stale.body, "error"), "stale_request") << stale.body;
}

}  // namespace
}  // namespace mpay
