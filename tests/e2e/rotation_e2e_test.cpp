// The service key rotated while the appliance serves, with phones registered
// before the rotation, during it (between begin and switch) and after it:
// none registers again. A phone that has not fetched the new key keeps
// logging in until the overlap ends, and not after; every step is in the
// audit log; the retired generation is gone from the token. The receipt key
// the verifier key and the KEK rotate too: receipts signed before keep
// verifying; each user's verifiers move to the new key at their next login
// and payment; identity records are sealed again online and sessions under
// the old KEK keep working until they expire.
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ca/certificate.h"
#include "client/api_client.h"
#include "client/device_state.h"
#include "client/flows.h"
#include "client/phone.h"
#include "gateway/json_fields.h"
#include "gateway/store.h"
#include "support/raw_phone.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

using test::kPassword;
using test::kPin;

struct Announced {
  std::string current;        // service_public_key
  std::vector<int> generations;  // service_public_keys, in order
  std::uint64_t previous_until = 0;
};

Announced announced(const test::RunningAppliance& app) {
  auto answer = app.get("/v1/platform");
  EXPECT_EQ(answer.status, 200) << answer.body;
  auto o = Poco::JSON::Parser().parse(answer.body).extract<Poco::JSON::Object::Ptr>();
  Announced a;
  a.current = o->getValue<std::string>("service_public_key");
  auto keys = o->getArray("service_public_keys");
  for (std::size_t i = 0; keys && i < keys->size(); ++i) {
    auto key = keys->getObject(static_cast<unsigned>(i));
    a.generations.push_back(key->getValue<int>("generation"));
    if (i == 0) {
      EXPECT_EQ(key->getValue<std::string>("public_key"), a.current) << "the first key is the one to use";
    }
    if (key->has("accepted_until")) a.previous_until = key->getValue<std::uint64_t>("accepted_until");
  }
  return a;
}

// The gateway keeps the platform data 5 s and each signer worker reads the
// token every 2 s: what a step announces is out within about 7 s.
Announced waitForGeneration(const test::RunningAppliance& app, int generation) {
  Announced a;
  for (int i = 0; i < 150; ++i) {
    a = announced(app);
    if (!a.generations.empty() && a.generations.front() == generation) return a;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "generation " << generation << " was not announced within 15 s";
  return a;
}

std::string payArgs(const std::string& order) {
  return "pay --password '" + std::string(kPassword) + "' --pin " + kPin + " --order " + order +
         " --amount 3.21 --currency CNY --json";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t unixNow() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// After a retire: the signer workers are killed and started again (with the
// token as the retire left it), and each phone logs in and pays.
void expectEveryPhoneWorksAfterWorkersRestart(const test::RunningAppliance& app, const std::string& order_prefix,
                                              int first_order) {
  for (pid_t worker : test::childrenOf(app.mpaydPid(), "mpay-signer"))
    for (pid_t w : test::childrenOf(worker)) kill(w, SIGKILL);
  ASSERT_TRUE(app.healthyWithin(30));
  int order = first_order;
  for (const char* device : {"before", "during", "after"}) {
    std::string login_output;
    for (int attempt = 0; attempt < 20; ++attempt) {  // a replaced worker may take a moment
      auto login = app.client(device, "login --password '" + std::string(kPassword) + "'");
      login_output = login.output;
      if (login.exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    EXPECT_NE(login_output.find("logged in"), std::string::npos) << device << ": " << login_output;
    auto paid = app.client(device, payArgs(order_prefix + std::to_string(order++)));
    EXPECT_EQ(test::jsonField(paid.output, "result"), "approved") << device << ": " << paid.output;
  }
}

TEST(RotationE2E, ServiceKeyRotatesWithPhonesRegisteredBeforeDuringAndAfter) {
  test::RunningAppliance app;
  // Before: enrolled, logged in and paid under generation 1.
  app.enroll("before", "+8613800138101");
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  ASSERT_EQ(app.client("before", payArgs("ROT-1")).exit_code, 0);
  const Announced first = announced(app);
  ASSERT_EQ(first.generations, std::vector<int>{1});
  auto status = app.admin("rotate service status");
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("no rotation in progress"), std::string::npos) << status.output;

  // Steps out of order are refused and change nothing.
  auto early_switch = app.admin("rotate service switch --overlap 30");
  EXPECT_EQ(early_switch.exit_code, 1) << early_switch.output;
  EXPECT_NE(early_switch.output.find("begin"), std::string::npos) << early_switch.output;
  EXPECT_EQ(app.admin("rotate service retire").exit_code, 1);

  // begin: generation 2 exists and opens, but phones are not told yet.
  auto begun = app.admin("rotate service begin");
  ASSERT_EQ(begun.exit_code, 0) << begun.output;
  EXPECT_NE(begun.output.find("created  service key generation 2"), std::string::npos) << begun.output;
  EXPECT_EQ(app.admin("rotate service begin").exit_code, 1) << "one rotation at a time";
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(announced(app).generations, std::vector<int>{1});

  // During: a phone registers between begin and switch (sealed to generation 1).
  auto reg = app.client("during", "register --phone +8613800138102 --imei 356938035643809 --sim 89860012345678901234"
                                  " --password '" + std::string(kPassword) + "' --pin " + kPin +
                                  " --name 'Li Si' --id-number 110101199003070000 --json");
  ASSERT_EQ(reg.exit_code, 0) << reg.output;

  // switch: generation 2 announced first, generation 1 with the end of its overlap.
  constexpr int kOverlap = 25;
  auto switched = app.admin("rotate service switch --overlap " + std::to_string(kOverlap));
  ASSERT_EQ(switched.exit_code, 0) << switched.output;
  const std::uint64_t switched_at = unixNow();
  const Announced second = waitForGeneration(app, 2);
  ASSERT_EQ(second.generations.front(), 2);
  EXPECT_EQ(second.generations, (std::vector<int>{2, 1}));
  EXPECT_NE(second.current, first.current);
  EXPECT_GE(second.previous_until, switched_at + kOverlap - 2);
  EXPECT_LE(second.previous_until, switched_at + kOverlap + 1);
  EXPECT_EQ(app.admin("rotate service retire").exit_code, 1) << "retire refused while phones may still seal to 1";

  // The phone registered during the rotation activates; its kept key is generation 1.
  const std::string rc = test::jsonField(reg.output, "registration_code");
  ASSERT_EQ(app.client("during", "activate --registration-code " + rc + " --confirmation-code " +
                                     app.confirmationCode("+8613800138102")).exit_code, 0);
  // A phone that has not fetched the new key still logs in during the overlap.
  test::RawPhone stale(app, "during");
  auto stale_login = app.post("/v1/login", stale.loginBody());
  EXPECT_EQ(stale_login.status, 200) << stale_login.body;

  // After: a phone registers with generation 2 and pays.
  app.enroll("after", "+8613800138103");
  ASSERT_EQ(app.client("after", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("after", payArgs("ROT-2")).output, "result"), "approved");
  // A phone follows the new key because the CA signed it for a newer
  // generation; a key nobody vouched for, a forged or replayed signature or
  // an older generation is refused (a gateway cannot hand out its own key).
  {
    const client::PlatformData kept = client::DeviceState(app.dev().dir() + "/before").platform().value();
    client::ApiClient api(app.url(), "");
    const client::PlatformData fresh = client::fetchPlatform(api).value();
    EXPECT_EQ(fresh.service_generation, 2u);
    EXPECT_TRUE(client::checkPlatformChange(kept, fresh).ok());
    client::PlatformData forged = fresh;
    forged.service_endorsement.back() ^= 1;
    EXPECT_FALSE(client::checkPlatformChange(kept, forged).ok());
    forged = fresh;
    forged.service_endorsement.clear();
    EXPECT_FALSE(client::checkPlatformChange(kept, forged).ok());
    forged = fresh;
    forged.service_point = test::RawPhone(app, "before").userPublicPoint();  // a key the CA vouched for as a user's
    EXPECT_FALSE(client::checkPlatformChange(kept, forged).ok());
    forged = fresh;
    forged.service_generation = 3;
    EXPECT_FALSE(client::checkPlatformChange(kept, forged).ok());
    // Once followed, what the phone knows of its key is not rewritten by an
    // answer that relabels it (a lower or absurd generation, no signature).
    client::PlatformData relabelled = fresh;
    relabelled.service_generation = 1;
    relabelled.service_endorsement.clear();
    auto still = client::checkPlatformChange(fresh, relabelled);
    ASSERT_TRUE(still.ok());
    EXPECT_EQ(still->service_generation, 2u);
    EXPECT_EQ(still->service_endorsement, fresh.service_endorsement);
    client::PlatformData newer = fresh;
    EXPECT_FALSE(client::checkPlatformChange(newer, kept).ok()) << "no way back to generation 1";
    newer.ca_cert = test::RawPhone(app, "before").userCertificate();
    EXPECT_FALSE(client::checkPlatformChange(kept, newer).ok()) << "another CA";
  }
  // The phone from before picks up generation 2 at its next login, and pays.
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_NE(readFile(app.dev().dir() + "/before/platform.json").find(second.current), std::string::npos)
      << "the phone keeps the announced key";
  EXPECT_EQ(test::jsonField(app.client("before", payArgs("ROT-3")).output, "result"), "approved");

  // The overlap ends: generation 1 no longer opens anything, nor is it
  // announced. A login sealed to it answers as any login that does not open.
  while (unixNow() <= second.previous_until) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto too_late = app.post("/v1/login", stale.loginBody());
  EXPECT_EQ(too_late.status, 401) << too_late.body;
  EXPECT_EQ(test::jsonField(too_late.body, "error"), "bad_credentials") << too_late.body;
  std::this_thread::sleep_for(std::chrono::seconds(6));  // the gateway's copy of the platform data
  EXPECT_EQ(announced(app).generations, std::vector<int>{2});
  // The phone registered during the rotation fetches the new key at login.
  ASSERT_EQ(app.client("during", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("during", payArgs("ROT-4")).output, "result"), "approved");

  // retire: generation 1 is destroyed; the token holds generation 2 only, to policy.
  auto retired = app.admin("rotate service retire");
  ASSERT_EQ(retired.exit_code, 0) << retired.output;
  auto check = app.admin("policy check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("service generation 2 public-point-sha256"), std::string::npos) << check.output;
  EXPECT_EQ(check.output.find("service public-point-sha256"), std::string::npos) << "generation 1 is gone";
  status = app.admin("rotate service status");
  EXPECT_NE(status.output.find("generation 2 announced"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("no rotation in progress"), std::string::npos) << status.output;

  // Every phone keeps working, through a signer worker that starts after the retire too.
  expectEveryPhoneWorksAfterWorkersRestart(app, "ROT-", 5);

  // The audit log holds each step, written before it, and each worker's load of it.
  const std::string audit = readFile(app.dev().config().signer.audit_log);
  for (const char* note : {"service begin generation=2", "service switch generation=2 previous=1",
                           "service retire generation=1", "\"op\":\"rotation_loaded\""})
    EXPECT_NE(audit.find(note), std::string::npos) << note;
  EXPECT_EQ(app.admin("audit verify").exit_code, 0);
}

// The receipt certificates GET /v1/platform publishes, and its CA.
struct PublishedReceipts {
  Bytes current, ca;
  std::vector<Bytes> all;
};

Bytes unb64(const std::string& text) { return gateway::unbase64url(text, 1 << 16).value(); }

PublishedReceipts publishedReceipts(const test::RunningAppliance& app) {
  auto o = Poco::JSON::Parser().parse(app.get("/v1/platform").body).extract<Poco::JSON::Object::Ptr>();
  PublishedReceipts p{unb64(o->getValue<std::string>("receipt_certificate")),
                      unb64(o->getValue<std::string>("ca_certificate")), {}};
  auto list = o->getArray("receipt_certificates");
  for (std::size_t i = 0; list && i < list->size(); ++i)
    p.all.push_back(unb64(list->getElement<std::string>(static_cast<unsigned>(i))));
  return p;
}

// A payment over HTTP in a session of its own; the receipt and its signature.
std::pair<Bytes, Bytes> rawPayment(const test::RunningAppliance& app, const std::string& device,
                                   const std::string& order) {
  test::RawPhone phone(app, device);
  EXPECT_TRUE(phone.logIn(app));
  auto answer = app.post("/v1/pay", phone.payBody(order, 1));
  EXPECT_EQ(answer.status, 200) << answer.body;
  auto o = Poco::JSON::Parser().parse(answer.body).extract<Poco::JSON::Object::Ptr>();
  return {unb64(o->getValue<std::string>("receipt")), unb64(o->getValue<std::string>("receipt_signature"))};
}

TEST(RotationE2E, ReceiptKeyRotatesAndReceiptsSignedBeforeStillVerify) {
  test::RunningAppliance app;
  app.enroll("before", "+8613800138111");
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  app.enroll("raw", "+8613800138113");
  const PublishedReceipts first = publishedReceipts(app);
  ASSERT_EQ(first.all, std::vector<Bytes>{first.current});
  const auto [old_receipt, old_signature] = rawPayment(app, "raw", "RCT-1");
  ASSERT_TRUE(client::verifyReceipt(old_receipt, old_signature, first.current, first.ca).ok());

  // begin: generation 2 and its certificate, published before it signs anything.
  auto begun = app.admin("rotate receipt begin");
  ASSERT_EQ(begun.exit_code, 0) << begun.output;
  PublishedReceipts during;
  for (int i = 0; i < 150 && during.all.size() < 2; ++i) {
    during = publishedReceipts(app);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(during.all.size(), 2u) << "the next receipt certificate is published within about 7 s";
  EXPECT_EQ(during.current, first.current) << "receipts are still signed with generation 1";
  EXPECT_TRUE(client::verifyReceipt(old_receipt, old_signature, during.all[0], during.ca).ok());
  EXPECT_FALSE(client::verifyReceipt(old_receipt, old_signature, during.all[1], during.ca).ok());
  EXPECT_EQ(test::jsonField(app.client("before", payArgs("RCT-2")).output, "result"), "approved");

  // switch: the signer signs with generation 2; the phone, logged in before
  // the rotation began, verifies its receipts without logging in again.
  auto switched = app.admin("rotate receipt switch");
  ASSERT_EQ(switched.exit_code, 0) << switched.output;
  PublishedReceipts after = during;
  for (int i = 0; i < 150 && after.current == first.current; ++i) {
    after = publishedReceipts(app);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(after.current, first.current) << "generation 2 signs within about 7 s";
  ASSERT_EQ(after.all.size(), 2u);
  EXPECT_EQ(after.all[1], first.current) << "the old certificate stays published";
  std::this_thread::sleep_for(std::chrono::seconds(3));  // every worker has moved on
  EXPECT_EQ(test::jsonField(app.client("before", payArgs("RCT-3")).output, "result"), "approved");
  const auto [new_receipt, new_signature] = rawPayment(app, "raw", "RCT-4");
  EXPECT_TRUE(client::verifyReceipt(new_receipt, new_signature, after.current, after.ca).ok());
  EXPECT_FALSE(client::verifyReceipt(new_receipt, new_signature, first.current, after.ca).ok());
  // A receipt signed before the rotation verifies against the published old certificate.
  EXPECT_TRUE(client::verifyReceiptByAny(old_receipt, old_signature, after.all, after.ca).ok());

  // A phone registered after the rotation pays and verifies.
  app.enroll("after", "+8613800138112");
  ASSERT_EQ(app.client("after", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("after", payArgs("RCT-5")).output, "result"), "approved");

  // retire (5 s after the switch at the earliest): the old key pair is
  // destroyed, its certificate stays, the token is still to policy.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto retired = app.admin("rotate receipt retire");
  ASSERT_EQ(retired.exit_code, 0) << retired.output;
  auto check = app.admin("policy check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("receipt generation 2 public-point-sha256"), std::string::npos) << check.output;
  EXPECT_EQ(publishedReceipts(app).all, after.all);
  // Through signer workers started after the retire, too.
  for (pid_t signer : test::childrenOf(app.mpaydPid(), "mpay-signer"))
    for (pid_t worker : test::childrenOf(signer)) kill(worker, SIGKILL);
  ASSERT_TRUE(app.healthyWithin(30));
  std::string paid;
  for (int attempt = 0; attempt < 20; ++attempt) {  // a replaced worker may take a moment
    paid = app.client("before", payArgs("RCT-6")).output;
    if (test::jsonField(paid, "result") == "approved") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(test::jsonField(paid, "result"), "approved") << paid;

  const std::string audit = readFile(app.dev().config().signer.audit_log);
  for (const char* note : {"receipt begin generation=2", "receipt switch generation=2 previous=1",
                           "receipt retire generation=1"})
    EXPECT_NE(audit.find(note), std::string::npos) << note;
  EXPECT_EQ(app.admin("audit verify").exit_code, 0);
}

// The verifier generations of a user's stored verifiers, as the database holds them.
std::pair<std::int64_t, std::int64_t> verifierGenerations(const test::RunningAppliance& app, const std::string& phone) {
  auto store = gateway::Store::open(app.dev().config().gateway.db_url);
  EXPECT_TRUE(store.ok());
  auto user = store.value()->findUser(phone);
  EXPECT_TRUE(user.ok() && user.value().has_value()) << phone;
  if (!user.ok() || !user.value()) return {0, 0};
  return {user.value()->credentials.password_verifier_generation, user.value()->credentials.pin_verifier_generation};
}

TEST(RotationE2E, VerifierKeyRotatesAndEachVerifierMovesAtItsUsersNextLoginAndPayment) {
  test::RunningAppliance app;
  using Generations = std::pair<std::int64_t, std::int64_t>;  // password's, PIN's
  const std::string before = app.enroll("before", "+8613800138121");
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  ASSERT_EQ(test::jsonField(app.client("before", payArgs("VER-1")).output, "result"), "approved");
  EXPECT_EQ(verifierGenerations(app, before), Generations(1, 1));
  auto status = app.admin("rotate verifier status");
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("generation 1 makes new verifiers"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("generation 1 holds 1 password verifier(s)"), std::string::npos) << status.output;
  EXPECT_EQ(app.admin("rotate verifier retire").exit_code, 1) << "nothing to retire";
  EXPECT_EQ(app.admin("rotate verifier switch").exit_code, 1) << "nothing begun";

  // begin: generation 2 is on the token and every worker checks with it; verifiers are still made under 1.
  auto begun = app.admin("rotate verifier begin");
  ASSERT_EQ(begun.exit_code, 0) << begun.output;
  EXPECT_NE(begun.output.find("created  verifier key generation 2"), std::string::npos) << begun.output;
  const std::string during = app.enroll("during", "+8613800138122");
  EXPECT_EQ(verifierGenerations(app, during), Generations(1, 1));

  // switch: new verifiers under generation 2; generation 1 still checks the others.
  auto switched = app.admin("rotate verifier switch");
  ASSERT_EQ(switched.exit_code, 0) << switched.output;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // every worker has read the state (2 s)
  const std::string after = app.enroll("after", "+8613800138123");
  EXPECT_EQ(verifierGenerations(app, after), Generations(2, 2));
  auto refused = app.admin("rotate verifier retire");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("generation 1 holds 2 password verifier(s)"), std::string::npos) << refused.output;

  // A wrong password under the old generation is counted as any other and moves nothing.
  test::RawPhone during_phone(app, "during");
  auto wrong = app.post("/v1/login", during_phone.loginBody("wrong password"));
  EXPECT_EQ(test::jsonField(wrong.body, "error"), "bad_credentials") << wrong.body;
  {
    auto store = gateway::Store::open(app.dev().config().gateway.db_url);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(store.value()->findUser(during).value()->failed_logins, 1);
  }
  EXPECT_EQ(verifierGenerations(app, during), Generations(1, 1));
  // A gateway naming a generation the token does not hold gets no answer about the password.
  app.sql("UPDATE users SET password_verifier_generation = 7 WHERE phone = '" + during + "'");
  auto unknown = app.post("/v1/login", during_phone.loginBody());
  EXPECT_EQ(test::jsonField(unknown.body, "error"), "bad_credentials") << unknown.body;
  app.sql("UPDATE users SET password_verifier_generation = 1 WHERE phone = '" + during + "'");

  // A right password moves its verifier at login; the PIN's moves at the next payment.
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(verifierGenerations(app, before), Generations(2, 1));
  EXPECT_EQ(test::jsonField(app.client("before", payArgs("VER-2")).output, "result"), "approved");
  EXPECT_EQ(verifierGenerations(app, before), Generations(2, 2));
  EXPECT_EQ(app.admin("rotate verifier retire").exit_code, 1) << "the phone registered during still has generation 1";
  ASSERT_EQ(app.client("during", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("during", payArgs("VER-3")).output, "result"), "approved");
  EXPECT_EQ(verifierGenerations(app, during), Generations(2, 2));
  status = app.admin("rotate verifier status");
  EXPECT_NE(status.output.find("generation 2 holds 3 pin verifier(s)"), std::string::npos) << status.output;
  EXPECT_EQ(status.output.find("generation 1 holds"), std::string::npos) << status.output;

  // retire: generation 1 is destroyed; the token holds generation 2 only, to policy.
  auto retired = app.admin("rotate verifier retire");
  ASSERT_EQ(retired.exit_code, 0) << retired.output;
  auto check = app.admin("policy check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("verifier generation 2"), std::string::npos) << check.output;

  // Every phone keeps working, through signer workers started after the retire too.
  expectEveryPhoneWorksAfterWorkersRestart(app, "VER-", 4);
  // The operator sees the counts on the console (counted for the page) and in /metrics.
  auto page = app.console("GET", "Bearer " + app.consoleToken());
  EXPECT_NE(page.body.find("verifier key at generation 2"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("generation 2: 3 password, 3 pin"), std::string::npos) << page.body;
  const std::string metrics = app.metrics().body;  // counted 5 s after start, then once a minute
  EXPECT_NE(metrics.find("key=\"verifier\",which=\"password\"}"), std::string::npos) << metrics;

  const std::string audit = readFile(app.dev().config().signer.audit_log);
  for (const char* note : {"verifier begin generation=2", "verifier switch generation=2 previous=1",
                           "verifier retire generation=1"})
    EXPECT_NE(audit.find(note), std::string::npos) << note;
  EXPECT_EQ(app.admin("audit verify").exit_code, 0);
}

// The KEK generation a user's identity record is sealed under.
std::int64_t identityKekGeneration(const test::RunningAppliance& app, const std::string& phone) {
  auto store = gateway::Store::open(app.dev().config().gateway.db_url);
  EXPECT_TRUE(store.ok());
  auto user = store.value()->findUser(phone);
  EXPECT_TRUE(user.ok() && user.value().has_value()) << phone;
  return user.ok() && user.value() ? user.value()->credentials.identity_kek_generation : 0;
}

TEST(RotationE2E, KekRotatesOnlineAndTheOldOneGoesWhenNothingIsSealedUnderIt) {
  test::RunningAppliance app;
  const std::string before = app.enroll("before", "+8613800138131");
  ASSERT_EQ(app.client("before", "login --password '" + std::string(kPassword) + "'").exit_code, 0);
  EXPECT_EQ(identityKekGeneration(app, before), 1);
  EXPECT_EQ(app.admin("rotate kek retire").exit_code, 1) << "nothing to retire";

  auto begun = app.admin("rotate kek begin");
  ASSERT_EQ(begun.exit_code, 0) << begun.output;
  EXPECT_NE(begun.output.find("created  kek key generation 2"), std::string::npos) << begun.output;
  const std::string during = app.enroll("during", "+8613800138132");
  EXPECT_EQ(identityKekGeneration(app, during), 1) << "begin seals nothing under the new KEK";

  auto switched = app.admin("rotate kek switch");
  ASSERT_EQ(switched.exit_code, 0) << switched.output;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // every worker has read the state (2 s)
  const std::string after = app.enroll("after", "+8613800138133");
  EXPECT_EQ(identityKekGeneration(app, after), 2);
  ASSERT_EQ(app.client("after", "login --password '" + std::string(kPassword) + "'").exit_code, 0);

  // A session whose keys were sealed under the old KEK still pays: no downtime, no new login.
  test::RawPhone old_session(app, "before");
  auto paid = app.post("/v1/pay", old_session.payBody("KEK-1", 1));
  EXPECT_EQ(paid.status, 200) << paid.body;
  EXPECT_EQ(test::jsonField(paid.body, "result"), "approved") << paid.body;

  // The gateway seals the stored identity records again, online (10 a second).
  for (int i = 0; i < 150 && (identityKekGeneration(app, before) != 2 || identityKekGeneration(app, during) != 2); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(identityKekGeneration(app, before), 2);
  EXPECT_EQ(identityKekGeneration(app, during), 2);
  auto status = app.admin("rotate kek status");
  std::istringstream status_lines(status.output);
  for (std::string line; std::getline(status_lines, line);)
    EXPECT_FALSE(line.find("generation 1 holds") != std::string::npos && line.find("identity") != std::string::npos)
        << status.output;
  EXPECT_NE(status.output.find("generation 1 holds 1 session(s) not expired"), std::string::npos) << status.output;

  // Live sessions under the old KEK keep it: retire is refused until they expire (a day; here, made to).
  auto refused = app.admin("rotate kek retire");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("session(s) not expired"), std::string::npos) << refused.output;
  app.sql("UPDATE sessions SET expires_at = 1 WHERE kek_generation = 1");
  auto retired = app.admin("rotate kek retire");
  ASSERT_EQ(retired.exit_code, 0) << retired.output;
  auto check = app.admin("policy check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("kek generation 2"), std::string::npos) << check.output;

  // A session naming a KEK the token no longer holds is over: the phone logs in again.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  app.sql("UPDATE sessions SET expires_at = 4102444800 WHERE kek_generation = 1");
  auto stale = app.post("/v1/pay", old_session.payBody("KEK-2", 2));
  EXPECT_EQ(test::jsonField(stale.body, "error"), "session_expired") << stale.body;

  // Every phone keeps working, through signer workers started after the retire too.
  expectEveryPhoneWorksAfterWorkersRestart(app, "KEK-", 3);
  auto page = app.console("GET", "Bearer " + app.consoleToken());
  EXPECT_NE(page.body.find("KEK at generation 2"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("KEK generation 2: 3 identity"), std::string::npos) << page.body;

  const std::string audit = readFile(app.dev().config().signer.audit_log);
  for (const char* note : {"kek begin generation=2", "kek switch generation=2 previous=1", "kek retire generation=1",
                           "\"op\":\"rewrap_identity\""})
    EXPECT_NE(audit.find(note), std::string::npos) << note;
  EXPECT_EQ(app.admin("audit verify").exit_code, 0);
}

}  // namespace
}  // namespace mpay

namespace mpay {
namespace {

// The CA as GET /v1/platform publishes it.
struct PublishedCa {
  Bytes current;
  std::uint64_t generation = 0;
  std::vector<Bytes> cross;
  std::vector<Bytes> receipts;
};

PublishedCa publishedCa(const test::RunningAppliance& app) {
  auto o = Poco::JSON::Parser().parse(app.get("/v1/platform").body).extract<Poco::JSON::Object::Ptr>();
  PublishedCa p;
  p.current = unb64(o->getValue<std::string>("ca_certificate"));
  p.generation = o->getValue<std::uint64_t>("ca_generation");
  for (const auto& [key, out] : {std::pair{"ca_cross_certificates", &p.cross},
                                 std::pair{"receipt_certificates", &p.receipts}}) {
    auto list = o->getArray(key);
    for (std::size_t i = 0; list && i < list->size(); ++i)
      out->push_back(unb64(list->getElement<std::string>(static_cast<unsigned>(i))));
  }
  return p;
}

// A switch shows the new CA 5 s later (hsm::PlatformInfo::previous_ca_until),
// then the workers' 2 s and the gateway's 5 s copy.
PublishedCa waitForCaGeneration(const test::RunningAppliance& app, std::uint64_t generation) {
  PublishedCa p;
  for (int i = 0; i < 250; ++i) {
    p = publishedCa(app);
    if (p.generation == generation) return p;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "CA generation " << generation << " was not published within 25 s";
  return p;
}

std::string loginArgs() { return "login --password '" + std::string(kPassword) + "'"; }

std::size_t countOf(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The CA rotated while the appliance serves, with phones registered before
// the rotation (certificate from CA 1), during it (between begin and
// switch: CA 1) and after it (CA 2): none registers again. Phones follow
// the new CA only through the cross certificate from the CA they trust,
// never back; a phone that trusts only CA 2 verifies receipts through CA
// 2's certificate for the receipt key in service; the service key in
// service is vouched for by whichever CA is presented with it; a number's
// owner stays bound across the rotation; the retired CA's key is destroyed
// and its certificate stays, so that what it issued keeps working.
TEST(RotationE2E, CaRotatesAndCertificatesOfEveryGenerationKeepWorking) {
  test::RunningAppliance app;
  app.enroll("before", "+8613800138121");
  ASSERT_EQ(app.client("before", loginArgs()).exit_code, 0);
  ASSERT_EQ(test::jsonField(app.client("before", payArgs("CA-1")).output, "result"), "approved");
  const PublishedCa first = publishedCa(app);
  EXPECT_EQ(first.generation, 1u);
  EXPECT_TRUE(first.cross.empty());
  ASSERT_EQ(first.receipts.size(), 1u);
  auto status = app.admin("rotate ca status");
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("no rotation in progress"), std::string::npos) << status.output;
  EXPECT_EQ(app.admin("rotate ca switch").exit_code, 1);
  EXPECT_EQ(app.admin("rotate ca retire").exit_code, 1);

  // The service key rotates first, so that the CA's switch has a rotated
  // service key to vouch for; while it is begun, the CA does not begin.
  ASSERT_EQ(app.admin("rotate service begin").exit_code, 0);
  auto refused = app.admin("rotate ca begin");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("service key rotation is begun"), std::string::npos) << refused.output;
  ASSERT_EQ(app.admin("rotate service switch --overlap 3600").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // policy/signer.ops: one step a second

  // begin: CA generation 2, its certificate and the two link certificates.
  auto begun = app.admin("rotate ca begin");
  ASSERT_EQ(begun.exit_code, 0) << begun.output;
  EXPECT_NE(begun.output.find("created  ca key generation 2"), std::string::npos) << begun.output;
  EXPECT_EQ(app.admin("rotate ca begin").exit_code, 1) << "one rotation at a time";
  EXPECT_EQ(app.admin("rotate service retire").exit_code, 1);
  auto service_refused = app.admin("rotate service begin");
  EXPECT_EQ(service_refused.exit_code, 1) << service_refused.output;
  EXPECT_EQ(app.admin("rotate receipt begin").exit_code, 1) << "the new CA certifies the receipt key in service";
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(publishedCa(app).generation, 1u) << "phones hear of the new CA at the switch";

  // During: a phone registers between begin and switch (CA 1 issues its certificate).
  app.enroll("during", "+8613800138122");
  EXPECT_EQ(test::RawPhone(app, "during").issuingCa(), first.current);

  // switch: CA 2 issues; CA 1's certificates stay honoured.
  auto switched = app.admin("rotate ca switch");
  ASSERT_EQ(switched.exit_code, 0) << switched.output;
  auto early = app.admin("rotate ca retire");
  EXPECT_EQ(early.exit_code, 1) << early.output;
  // At the switch: phones are still shown CA 1 for a few seconds while the
  // workers move to CA 2; one that registers now keeps working either way.
  app.enroll("at-switch", "+8613800138124");
  const PublishedCa second = waitForCaGeneration(app, 2);
  ASSERT_EQ(second.generation, 2u);
  EXPECT_NE(second.current, first.current);
  ASSERT_EQ(second.cross.size(), 1u);
  EXPECT_TRUE(ca::verifyCaSuccessor(second.current, ca::CaTrust{{first.current}, second.cross}).ok());
  // The receipt key in service, certified by both CAs: CA 1's certificate
  // first (receipt_certificate), CA 2's beside it.
  ASSERT_EQ(second.receipts.size(), 2u);
  EXPECT_EQ(second.receipts[0], first.receipts[0]);
  EXPECT_TRUE(ca::verifyReceiptSigner(second.receipts[1], second.current).ok());
  EXPECT_EQ(ca::certificatePublicKey(second.receipts[1])->point(), ca::certificatePublicKey(first.receipts[0])->point());

  // After: a phone registered now has a certificate from CA 2, trusts CA 2
  // only, and verifies receipts through CA 2's certificate for the receipt key.
  app.enroll("after", "+8613800138123");
  EXPECT_EQ(test::RawPhone(app, "after").issuingCa(), second.current);
  EXPECT_TRUE(ca::verifyIssuedBy(test::RawPhone(app, "after").userCertificate(), second.current).ok());
  ASSERT_EQ(app.client("after", loginArgs()).exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("after", payArgs("CA-2")).output, "result"), "approved");
  {
    const client::PlatformData kept = client::DeviceState(app.dev().dir() + "/after").platform().value();
    EXPECT_EQ(kept.trusted_cas, std::vector<Bytes>{second.current});
    EXPECT_FALSE(ca::verifyReceiptSigner(second.receipts[0], client::trustOf(kept)).ok()) << "issued by CA 1";
    EXPECT_TRUE(ca::verifyReceiptSigner(second.receipts[1], client::trustOf(kept)).ok());
  }

  // Before: its CA 1 certificate logs in and pays (the number stays its
  // own); at that login it follows CA 2 through the cross certificate.
  ASSERT_EQ(app.client("before", loginArgs()).exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("before", payArgs("CA-3")).output, "result"), "approved");
  const client::PlatformData before = client::DeviceState(app.dev().dir() + "/before").platform().value();
  EXPECT_EQ(before.trusted_cas, (std::vector<Bytes>{first.current, second.current}));
  EXPECT_EQ(before.ca_generation, 2u);
  EXPECT_EQ(before.service_generation, 2u) << "the service key CA 2 vouched for";
  ASSERT_EQ(app.client("during", loginArgs()).exit_code, 0);
  EXPECT_EQ(test::jsonField(app.client("during", payArgs("CA-4")).output, "result"), "approved");
  auto at_switch = app.client("at-switch", loginArgs());
  ASSERT_EQ(at_switch.exit_code, 0) << at_switch.output;
  EXPECT_EQ(test::jsonField(app.client("at-switch", payArgs("CA-40")).output, "result"), "approved");

  // A CA the phone's CA did not certify is not followed, nor is an older
  // one brought back, whatever generation the answer claims.
  {
    client::ApiClient api(app.url(), "");
    const client::PlatformData kept = client::DeviceState(app.dev().dir() + "/during").platform().value();
    const client::PlatformData fresh = client::fetchPlatform(api).value();
    const client::PlatformData original = [&] {
      client::PlatformData p = kept;
      p.ca_cert = first.current;
      p.trusted_cas = {first.current};
      p.ca_generation = 1;
      return p;
    }();
    EXPECT_TRUE(client::checkPlatformChange(original, fresh).ok());
    client::PlatformData forged = fresh;
    forged.ca_cross.clear();
    EXPECT_FALSE(client::checkPlatformChange(original, forged).ok()) << "no cross certificate";
    forged = fresh;
    forged.ca_cross = {test::RawPhone(app, "after").userCertificate()};
    EXPECT_FALSE(client::checkPlatformChange(original, forged).ok()) << "a user certificate as the link";
    forged = fresh;
    forged.ca_cert = test::RawPhone(app, "after").userCertificate();
    forged.ca_generation = 3;
    EXPECT_FALSE(client::checkPlatformChange(fresh, forged).ok()) << "a certificate that is not a CA";
    // CA 1 again, with a claimed generation 3 and every published link: a
    // phone that followed CA 2 refuses it, and so does one that started at CA 2.
    client::PlatformData back_to_one = original;
    back_to_one.ca_generation = 3;
    back_to_one.ca_cross = fresh.ca_cross;
    auto followed = client::checkPlatformChange(original, fresh);
    ASSERT_TRUE(followed.ok());
    EXPECT_FALSE(client::checkPlatformChange(followed.value(), back_to_one).ok()) << "no way back to CA 1";
    const client::PlatformData started_at_two = client::DeviceState(app.dev().dir() + "/after").platform().value();
    EXPECT_FALSE(client::checkPlatformChange(started_at_two, back_to_one).ok()) << "no way to CA 1";
    // An unsigned generation changes nothing: an answer that claims a huge
    // one is followed on its cross certificate, and the next CA still is.
    forged = fresh;
    forged.ca_generation = 0xffffffffULL;
    auto inflated = client::checkPlatformChange(original, forged);
    ASSERT_TRUE(inflated.ok());
    EXPECT_EQ(inflated->trusted_cas, (std::vector<Bytes>{first.current, second.current}));
  }

  // A receipt key begun now gets its certificate from CA 2; a phone that
  // trusts only CA 1 verifies it through the cross certificate.
  ASSERT_EQ(app.admin("rotate receipt begin").exit_code, 0);
  PublishedCa with_next = publishedCa(app);
  for (int i = 0; i < 150 && with_next.receipts.size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    with_next = publishedCa(app);
  }
  ASSERT_EQ(with_next.receipts.size(), 3u) << "current (CA 1), current (CA 2), next (CA 2)";
  EXPECT_TRUE(ca::verifyReceiptSigner(with_next.receipts[2], second.current).ok());
  EXPECT_TRUE(ca::verifyReceiptSigner(with_next.receipts[2], ca::CaTrust{{first.current}, second.cross}).ok());

  // retire: CA 1's key is destroyed, its certificate stays; the token is to policy.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto retired = app.admin("rotate ca retire");
  ASSERT_EQ(retired.exit_code, 0) << retired.output;
  EXPECT_NE(retired.output.find("its certificate stays"), std::string::npos) << retired.output;
  auto check = app.admin("policy check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("ca generation 2 public-point-sha256"), std::string::npos) << check.output;
  EXPECT_EQ(check.output.find("ca public-point-sha256"), std::string::npos) << "generation 1's key is gone";
  status = app.admin("rotate ca status");
  EXPECT_NE(status.output.find("generation 2 issues certificates"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("no rotation in progress"), std::string::npos) << status.output;
  EXPECT_EQ(publishedCa(app).cross, second.cross);
  EXPECT_EQ(countOf(readFile(app.dev().config().public_dir + "/ca.pem"), "BEGIN CERTIFICATE"), 2u)
      << "ca.pem holds both generations";

  // Every phone keeps working, through signer workers started after the retire.
  expectEveryPhoneWorksAfterWorkersRestart(app, "CA-", 5);

  const std::string audit = readFile(app.dev().config().signer.audit_log);
  for (const char* note : {"ca begin generation=2", "ca switch generation=2 previous=1", "ca retire generation=1"})
    EXPECT_NE(audit.find(note), std::string::npos) << note;
  EXPECT_EQ(app.admin("audit verify").exit_code, 0);
}

}  // namespace
}  // namespace mpay
