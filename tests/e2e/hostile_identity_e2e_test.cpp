// Identity when the phone is hostile: a number cannot be taken without its
// SMS, a lost activation answer does not brick the number, confirmation
// guesses are bounded, and a number's state does not leak through the
// answers. Real processes, on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>

#include <ctime>

#include "client/flows.h"
#include "gateway/json_fields.h"
#include "suite/certificate_file.h"
#include "suite/primitives.h"
#include "support/running_appliance.h"
#include "support/together.h"

namespace mpay {
namespace {

using test::HttpAnswer;

constexpr char kAttackerPassword[] = "attacker chose this";

suite::Info1 profile(const std::string& phone, const std::string& password) {
  return suite::Info1{phone,  "356938035643809", "89860012345678901234", Secret::copyOf(password),
                      Secret::copyOf(std::string("135790")), "Mallory", "X1"};
}

// Registers `phone` through the API as any phone could; returns the registration code.
std::string registerNumber(const test::RunningAppliance& app, const suite::Info1& info) {
  client::ApiClient api(app.url(), "");
  auto platform = client::fetchPlatform(api);
  EXPECT_TRUE(platform.ok());
  auto code = client::registerPhone(api, platform.value(), info);
  EXPECT_TRUE(code.ok()) << (code.ok() ? "" : code.error().code + " " + code.error().message);
  return code.ok() ? code.value() : "";
}

std::string json(std::initializer_list<std::pair<const char*, std::string>> fields) {
  Poco::JSON::Object o;
  for (const auto& [k, v] : fields) o.set(k, v);
  return gateway::toJson(o);
}

HttpAnswer activate(const test::RunningAppliance& app, const std::string& phone, const std::string& code) {
  return app.post("/v1/activate", json({{"phone", phone}, {"registration_code", code}}));
}

HttpAnswer confirm(const test::RunningAppliance& app, const std::string& phone, ByteView proof) {
  return app.post("/v1/confirm", json({{"phone", phone}, {"proof", gateway::base64url(proof)}}));
}

// The PKCS#12 inside a registration file, taken without checking its MAC
// (what a phone without the confirmation code can do).
Bytes p12Of(const std::string& registration_file_b64) {
  Bytes file = gateway::unbase64url(registration_file_b64, 1 << 16).value();
  ByteReader r(file);
  ByteView p12;
  EXPECT_TRUE(r.field(&p12, 0xffff));
  return Bytes(p12.begin(), p12.end());
}

// A /v1/login body for `phone` signed by `key`, whoever's key that is.
std::string loginBody(const test::RunningAppliance& app, const suite::EcPrivateKey& key, const std::string& phone,
                      const Secret& password) {
  client::ApiClient api(app.url(), "");
  auto platform = client::fetchPlatform(api).value();
  auto service = suite::EcPublicKey::fromPoint(platform.service_point).value();
  auto m = client::buildLogin(service, key, phone, password, static_cast<std::uint64_t>(std::time(nullptr)),
                              suite::randomBytes(16), client::systemRandom())
               .value();
  return json({{"phone", phone}, {"c1", gateway::base64url(m.c1)}, {"c2", gateway::base64url(m.c2)}});
}

HttpAnswer logInAs(const test::RunningAppliance& app, const suite::EcPrivateKey& key, const std::string& phone,
                   const Secret& password) {
  return app.post("/v1/login", loginBody(app, key, phone, password));
}

suite::EcPrivateKey keyIn(const suite::Info1& info, ByteView p12) {
  auto opened = suite::openCertificateFile(p12, suite::info3Password(info.phone, info.imei, info.sim, info.password));
  EXPECT_TRUE(opened.ok());
  return opened->private_key;
}

HttpAnswer logIn(const test::RunningAppliance& app, const suite::Info1& info, ByteView p12) {
  return logInAs(app, keyIn(info, p12), info.phone, info.password);
}

class HostileIdentityE2E : public ::testing::Test {
 protected:
  test::RunningAppliance app_;
};

TEST_F(HostileIdentityE2E, ANumberCannotBeTakenWithoutItsSms) {
  const std::string victim = "+8613800138040";
  auto attacker = profile(victim, kAttackerPassword);
  const std::string code = registerNumber(app_, attacker);
  auto file = activate(app_, victim, code);
  ASSERT_EQ(file.status, 200) << file.body;
  const Bytes p12 = p12Of(test::jsonField(file.body, "registration_file"));
  // Without the SMS the attacker can only guess the proof.
  auto guessed = suite::confirmationProof(victim, p12, code, "00000000").value();
  auto refused = confirm(app_, victim, guessed);
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(test::jsonField(refused.body, "error"), "bad_confirmation");
  // The certificate file opens with the info3 the attacker chose, but the number is not theirs.
  auto login = logIn(app_, attacker, p12);
  EXPECT_EQ(login.status, 403) << login.body;
  EXPECT_EQ(test::jsonField(login.body, "error"), "registration_unconfirmed");
  // The owner registers afresh and completes, with the real SMS.
  auto owner = app_.client("owner", "register --phone " + victim +
                                         " --imei 356938035643809 --sim 89860012345678901234"
                                         " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json");
  ASSERT_EQ(owner.exit_code, 0) << owner.output;
  auto activated = app_.client("owner", "activate --registration-code " +
                                            test::jsonField(owner.output, "registration_code") +
                                            " --confirmation-code " + app_.confirmationCode(victim));
  ASSERT_EQ(activated.exit_code, 0) << activated.output;
  EXPECT_EQ(app_.client("owner", "login --password 'correct horse 42'").exit_code, 0);
  // The attacker's file is worth nothing now.
  EXPECT_EQ(test::jsonField(logIn(app_, attacker, p12).body, "error"), "bad_credentials");
}

TEST_F(HostileIdentityE2E, ALostActivationAnswerIsAskedForAgain) {
  const std::string phone = "+8613800138041";
  auto reg = app_.client("p", "register --phone " + phone + " --imei 356938035643809 --sim 89860012345678901234"
                                  " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json");
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  const std::string code = test::jsonField(reg.output, "registration_code");
  // Two answers lost on the way (or refused by the phone's MAC check).
  ASSERT_EQ(activate(app_, phone, code).status, 200);
  ASSERT_EQ(activate(app_, phone, code).status, 200);
  auto act = app_.client("p", "activate --registration-code " + code + " --confirmation-code " +
                                  app_.confirmationCode(phone));
  ASSERT_EQ(act.exit_code, 0) << act.output;
  EXPECT_EQ(app_.client("p", "login --password 'correct horse 42'").exit_code, 0);
  // Confirmed: nothing is pending any more, and the number is taken.
  EXPECT_EQ(test::jsonField(activate(app_, phone, code).body, "error"), "bad_registration_code");
  auto again = app_.client("q", "register --phone " + phone + " --imei 356938035643809 --sim 89860012345678901234"
                                    " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json");
  EXPECT_NE(again.output.find("already_registered"), std::string::npos) << again.output;
}

TEST_F(HostileIdentityE2E, ConfirmationGuessesAreLimitedAndTheOwnerCanStartAgain) {
  const std::string phone = "+8613800138042";
  auto info = profile(phone, "correct horse 42");
  const std::string code = registerNumber(app_, info);
  auto file = activate(app_, phone, code);
  const Bytes p12 = p12Of(test::jsonField(file.body, "registration_file"));
  for (int i = 0; i < 5; ++i) {  // gateway.max_code_attempts
    auto wrong = confirm(app_, phone, suite::confirmationProof(phone, p12, code, std::to_string(10000000 + i)).value());
    EXPECT_EQ(test::jsonField(wrong.body, "error"), "bad_confirmation") << wrong.body;
  }
  // Spent: even the right proof is refused now.
  auto right = suite::confirmationProof(phone, p12, code, app_.confirmationCode(phone)).value();
  EXPECT_EQ(test::jsonField(confirm(app_, phone, right).body, "error"), "bad_confirmation");
  // A voided registration never blocks the number: register again and finish.
  const std::string code2 = registerNumber(app_, info);
  auto file2 = activate(app_, phone, code2);
  const Bytes p12b = p12Of(test::jsonField(file2.body, "registration_file"));
  auto ok = confirm(app_, phone, suite::confirmationProof(phone, p12b, code2, app_.confirmationCode(phone)).value());
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(HostileIdentityE2E, AnUnknownNumberAndAPendingOneAnswerAlike) {
  const std::string pending = "+8613800138043", unknown = "+8613800138044";
  registerNumber(app_, profile(pending, "correct horse 42"));
  auto a = activate(app_, pending, "000000000000");
  auto b = activate(app_, unknown, "000000000000");
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.body, b.body);
  const Bytes proof(32, 7);
  auto c = confirm(app_, pending, proof);
  auto d = confirm(app_, unknown, proof);
  EXPECT_EQ(c.status, d.status);
  EXPECT_EQ(c.body, d.body);
  // After the attempt limit too (five guesses from anywhere), the two still answer alike.
  for (int i = 0; i < 5; ++i) activate(app_, pending, "000000000000");
  EXPECT_EQ(activate(app_, pending, "000000000000").body, activate(app_, unknown, "000000000000").body);
}

// The owner's number with a login signed by someone else's key, and a number
// nobody registered, answer alike however often they are tried: the signer
// does the same work for both (the decoy credential), both spend and give
// back an attempt, and neither locks (only the key's holder can spend the
// owner's attempts). The timing is compared by scripts/login-timing.
TEST_F(HostileIdentityE2E, AnUnknownNumberAndAKnownOneAnswerAlikeToAForeignKey) {
  const std::string known = "+8613800138045", unknown = "+8613800138046", mallory = "+8613800138047";
  auto owner = app_.client("owner", "register --phone " + known +
                                         " --imei 356938035643809 --sim 89860012345678901234"
                                         " --password 'correct horse 42' --pin 246810 --name Li --id-number 1 --json");
  ASSERT_EQ(owner.exit_code, 0) << owner.output;
  ASSERT_EQ(app_.client("owner", "activate --registration-code " + test::jsonField(owner.output, "registration_code") +
                                     " --confirmation-code " + app_.confirmationCode(known))
                .exit_code,
            0);
  // Mallory's own key: from a registration of her own number.
  auto info = profile(mallory, kAttackerPassword);
  const std::string code = registerNumber(app_, info);
  const auto key = keyIn(info, p12Of(test::jsonField(activate(app_, mallory, code).body, "registration_file")));

  const Secret guess = Secret::copyOf(std::string("correct horse 42"));
  for (int i = 0; i < 8; ++i) {  // beyond gateway.lockout_threshold
    auto k = logInAs(app_, key, known, guess);
    auto u = logInAs(app_, key, unknown, guess);
    EXPECT_EQ(k.status, 401) << k.body;
    EXPECT_EQ(k.status, u.status);
    EXPECT_EQ(k.body, u.body);
    EXPECT_EQ(test::jsonField(k.body, "error"), "bad_credentials");
  }
  // The owner was never locked out by them.
  EXPECT_EQ(app_.client("owner", "login --password 'correct horse 42'").exit_code, 0);
}

// A number with no active user is counted like a user: 25 wrong passwords at
// once for an unconfirmed registration (signed by its own key, so each
// reaches the password check) reach it at most gateway.lockout_threshold
// times and the rest are account_locked, as is the right password then.
// (The registration's own attempt limit is raised here, so that this bound
// is the one measured.)
TEST(HostileIdentityConcurrentE2E, ConcurrentWrongPasswordsForAnUnconfirmedNumberReachTheCheckAtMostTheThreshold) {
  test::RunningAppliance app("gateway.rate_per_phone = 100000\ngateway.rate_per_source = 100000\n"
                             "gateway.max_threads = 32\ngateway.max_queued = 256\ngateway.max_code_attempts = 100\n",
                             false, "", test::raisedBudgets());
  const std::string phone = "+8613800138048";
  auto info = profile(phone, "correct horse 42");
  const std::string code = registerNumber(app, info);
  const auto key = keyIn(info, p12Of(test::jsonField(activate(app, phone, code).body, "registration_file")));
  std::vector<std::string> bodies;
  for (int i = 0; i < 25; ++i)
    bodies.push_back(loginBody(app, key, phone, Secret::copyOf("wrong password " + std::to_string(i))));
  auto counts = test::countErrors(test::postTogether(app, "/v1/login", bodies));
  EXPECT_LE(counts["bad_credentials"], 5) << test::describe(counts);
  EXPECT_EQ(counts["bad_credentials"] + counts["account_locked"], 25) << test::describe(counts);
  EXPECT_EQ(test::jsonField(logInAs(app, key, phone, Secret::copyOf(std::string("correct horse 42"))).body, "error"),
            "account_locked");
}

}  // namespace
}  // namespace mpay
