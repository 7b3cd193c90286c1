// Money and guesses when phones, networks and timing are hostile: requests
// released together from a barrier, replays of captured requests, retries
// after a lost answer, a signer that stops between the acquirer's approval
// and the receipt. Real processes (mpayd, signer, gateway, acquirer
// simulator), on SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <latch>
#include <map>
#include <set>
#include <thread>

#include "gateway/json_fields.h"
#include "gateway/store.h"
#include "support/raw_phone.h"
#include "support/running_appliance.h"
#include "support/together.h"

namespace mpay {
namespace {

using test::HttpAnswer;

// Per-phone and per-address limits out of the way: these tests are about
// what happens when the requests do arrive together.
constexpr char kOpenLimits[] =
    "gateway.rate_per_phone = 100000\n"
    "gateway.rate_per_source = 100000\n"
    "gateway.max_threads = 32\n"
    "gateway.max_queued = 256\n";

using test::countErrors;
using test::describe;
using test::postTogether;

struct Debit {
  std::string result, transaction_no;
  std::uint64_t amount_minor = 0;
};

std::map<std::string, Debit> ledger(const test::RunningAppliance& app) {
  auto answer = app.acquirerLedger();
  Poco::JSON::Parser parser;
  auto entries = parser.parse(answer.body).extract<Poco::JSON::Object::Ptr>()->getArray("ledger");
  std::map<std::string, Debit> out;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    auto e = entries->getObject(static_cast<unsigned>(i));
    out[e->getValue<std::string>("order_no")] = {e->getValue<std::string>("result"),
                                                 e->getValue<std::string>("transaction_no"),
                                                 e->getValue<std::uint64_t>("amount_minor")};
  }
  return out;
}

std::optional<gateway::TransactionRow> storedOrder(const test::RunningAppliance& app, const std::string& order) {
  auto store = gateway::Store::open(app.dev().config().gateway.db_url);
  if (!store) return std::nullopt;
  auto row = store.value()->findTransaction(order);
  return row ? row.value() : std::nullopt;
}

std::string storedOrderState(const test::RunningAppliance& app, const std::string& order) {
  auto row = storedOrder(app, order);
  return row ? row->state : "";
}

class HostileMoneyE2E : public ::testing::Test {
 protected:
  HostileMoneyE2E() : app_(kOpenLimits, false, "", test::raisedBudgets()) {}
  void SetUp() override {
    app_.enroll("phone", "+8613800138020");
    ASSERT_EQ(app_.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
    phone_.emplace(app_, "phone");
  }
  // Every 200 answer for `order`: the same receipt bytes, the debited amount, the stored row.
  void expectOneOutcome(const std::string& order, const std::vector<HttpAnswer>& answers) {
    const auto debits = ledger(app_);
    ASSERT_EQ(debits.count(order), 1u) << "no debit for " << order;
    const Debit& debit = debits.at(order);
    const auto row = storedOrder(app_, order);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->state, debit.result);
    EXPECT_EQ(static_cast<std::uint64_t>(row->amount_minor), debit.amount_minor);
    EXPECT_EQ(row->transaction_no, debit.transaction_no);
    std::set<std::string> receipts;
    for (const auto& a : answers) {
      if (a.status != 200) continue;
      receipts.insert(test::jsonField(a.body, "receipt"));
      EXPECT_EQ(test::jsonField(a.body, "amount_minor"), std::to_string(debit.amount_minor)) << a.body;
      EXPECT_EQ(test::jsonField(a.body, "transaction_no"), debit.transaction_no) << a.body;
    }
    EXPECT_LE(receipts.size(), 1u) << "one order, several receipts";
  }
  std::string base64Receipt(const std::string& order) {
    auto row = storedOrder(app_, order);
    return row ? gateway::base64url(row->receipt) : "";
  }
  std::string authorizations() { return test::jsonField(app_.acquirerStats().body, "authorizations"); }

  test::RunningAppliance app_;
  std::optional<test::RawPhone> phone_;
};

TEST_F(HostileMoneyE2E, FiftyConcurrentPaymentsOfOneOrderWithDifferentAmountsGiveOneDebitAndOneReceipt) {
  std::vector<std::string> bodies;
  for (std::uint64_t i = 0; i < 50; ++i) bodies.push_back(phone_->payBody("RACE-AMOUNTS", i + 1, 1000 + i));
  auto answers = postTogether(app_, "/v1/pay", bodies);
  auto counts = countErrors(answers);
  EXPECT_GE(counts["ok"], 1) << describe(counts);
  for (const auto& [code, n] : counts)
    EXPECT_TRUE(code == "ok" || code == "order_conflict" || code == "overloaded") << describe(counts);
  EXPECT_EQ(authorizations(), "1");
  expectOneOutcome("RACE-AMOUNTS", answers);
  // The amount that won is the one every 200 answer names; the others conflicted.
  const std::string amount = std::to_string(ledger(app_).at("RACE-AMOUNTS").amount_minor);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].status == 200) {
      EXPECT_EQ(std::to_string(1000 + i), amount);
    }
  }
}

TEST_F(HostileMoneyE2E, IdenticalConcurrentResendsAllGetTheSameReceipt) {
  const std::string body = phone_->payBody("RACE-SAME", 1);
  auto answers = postTogether(app_, "/v1/pay", std::vector<std::string>(40, body));
  auto counts = countErrors(answers);
  EXPECT_EQ(counts["ok"], 40) << describe(counts);
  EXPECT_EQ(authorizations(), "1");
  expectOneOutcome("RACE-SAME", answers);
}

TEST_F(HostileMoneyE2E, AFreshlySignedRetryGetsTheStoredOutcomeAndOtherContentConflicts) {
  const std::string pay = std::string("pay --password '") + test::kPassword + "' --pin " + test::kPin +
                          " --order RETRY-1 --amount 10.02 --currency CNY --content tea --json";
  auto first = app_.client("phone", pay);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string transaction_no = ledger(app_).at("RETRY-1").transaction_no;
  // The answer was lost; mpay-client signs the same payment again with its next counter.
  auto again = app_.client("phone", pay);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(transaction_no), std::string::npos) << again.output;
  // So does a phone of its own making, and it gets the stored receipt.
  auto retry = app_.post("/v1/pay", phone_->payBody("RETRY-1", 100, 1002));
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "receipt"), base64Receipt("RETRY-1"));
  auto other = app_.post("/v1/pay", phone_->payBody("RETRY-1", 101, 1019));
  EXPECT_EQ(test::jsonField(other.body, "error"), "order_conflict") << other.body;
  auto other_content = app_.post("/v1/pay", phone_->payBody("RETRY-1", 102, 1002, "coffee"));
  EXPECT_EQ(test::jsonField(other_content.body, "error"), "order_conflict") << other_content.body;
  EXPECT_EQ(authorizations(), "1");
}

TEST_F(HostileMoneyE2E, ConcurrentWrongPinsReachTheCheckAtMostTheThreshold) {
  // One session each, so that no counter orders them: all 25 race for the PIN check.
  std::vector<std::string> bodies;
  for (int i = 0; i < 25; ++i) {
    test::RawPhone session(app_, "phone");
    ASSERT_TRUE(session.logIn(app_));
    bodies.push_back(session.payBody("WRONG-PIN-" + std::to_string(i), 1, 1234, "tea", "135790"));
  }
  auto counts = countErrors(postTogether(app_, "/v1/pay", bodies));
  EXPECT_LE(counts["bad_pin"], 5) << describe(counts);  // gateway.lockout_threshold
  EXPECT_EQ(counts["bad_pin"] + counts["pin_locked"], 25) << describe(counts);
  // Locked now, even for the right PIN.
  auto right = app_.post("/v1/pay", phone_->payBody("RIGHT-PIN", 100));
  EXPECT_EQ(test::jsonField(right.body, "error"), "pin_locked") << right.body;
  EXPECT_TRUE(ledger(app_).empty());
}

TEST_F(HostileMoneyE2E, AReplayedWrongPinPaymentNeverLocksTheOwner) {
  const std::string captured = phone_->payBody("CAPTURED-1", 1, 1234, "tea", "135790");
  auto first = app_.post("/v1/pay", captured);
  EXPECT_EQ(test::jsonField(first.body, "error"), "bad_pin") << first.body;
  for (int i = 0; i < 10; ++i) {
    auto replay = app_.post("/v1/pay", captured);
    EXPECT_EQ(replay.status, 409) << replay.body;
    EXPECT_EQ(test::jsonField(replay.body, "error"), "replayed_request") << replay.body;
  }
  auto owner = app_.post("/v1/pay", phone_->payBody("OWNER-1", 2));
  EXPECT_EQ(owner.status, 200) << owner.body;
}

TEST_F(HostileMoneyE2E, ConcurrentWrongPasswordsReachTheCheckAtMostTheThreshold) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 25; ++i) bodies.push_back(phone_->loginBody("wrong password " + std::to_string(i)));
  auto counts = countErrors(postTogether(app_, "/v1/login", bodies));
  EXPECT_LE(counts["bad_credentials"], 5) << describe(counts);
  EXPECT_EQ(counts["bad_credentials"] + counts["account_locked"], 25) << describe(counts);
  EXPECT_EQ(test::jsonField(app_.post("/v1/login", phone_->loginBody()).body, "error"), "account_locked");
}

TEST_F(HostileMoneyE2E, AReplayedWrongPasswordLoginNeverLocksTheOwner) {
  const std::string captured = phone_->loginBody("not the password");
  EXPECT_EQ(test::jsonField(app_.post("/v1/login", captured).body, "error"), "bad_credentials");
  for (int i = 0; i < 10; ++i) {
    auto replay = app_.post("/v1/login", captured);
    EXPECT_EQ(test::jsonField(replay.body, "error"), "replayed_request") << replay.body;
  }
  auto owner = app_.post("/v1/login", phone_->loginBody());
  EXPECT_EQ(owner.status, 200) << owner.body;
}

TEST_F(HostileMoneyE2E, AnUnknownPhoneAndAForeignKeyAnswerAlike) {
  // A login for this phone signed by another phone's key, and one for a number nobody registered.
  app_.enroll("other", "+8613800138021");
  test::RawPhone other(app_, "other");
  std::string foreign = other.loginBody();
  const std::string needle = "\"" + other.phone() + "\"";
  foreign.replace(foreign.find(needle), needle.size(), "\"" + phone_->phone() + "\"");
  auto signed_by_another = app_.post("/v1/login", foreign);
  std::string unknown = phone_->loginBody();
  unknown.replace(unknown.find(phone_->phone()), phone_->phone().size(), "+8613800138999");
  auto nobody = app_.post("/v1/login", unknown);
  auto wrong = app_.post("/v1/login", phone_->loginBody("wrong password"));
  EXPECT_EQ(signed_by_another.status, 401);
  EXPECT_EQ(signed_by_another.body, nobody.body);
  EXPECT_EQ(wrong.body, nobody.body);
}

TEST_F(HostileMoneyE2E, AmountsBeyondWhatJsonHoldsExactlyAreRefused) {
  for (const char* amount : {"9007199254740992", "9223372036854775808", "18446744073709551615",
                             "18446744073709551617", "1e3", "12.5", "-1"}) {
    std::string body = phone_->payBody("BIG-AMOUNT", 1, 1234);
    body.replace(body.find("1234"), 4, amount);
    auto answer = app_.post("/v1/pay", body);
    EXPECT_EQ(answer.status, 400) << amount << ": " << answer.body;
    EXPECT_EQ(test::jsonField(answer.body, "error"), "bad_field") << amount << ": " << answer.body;
  }
  EXPECT_TRUE(ledger(app_).empty());
  auto largest = app_.post("/v1/pay", phone_->payBody("LARGEST", 2, 9007199254740991ull));
  ASSERT_EQ(largest.status, 200) << largest.body;
  EXPECT_EQ(test::jsonField(largest.body, "amount_minor"), "9007199254740991");
}

// The gateway dies after a wrong PIN has reached the signer and before it
// could answer: the attempt was spent before the check, so the guess counts.
TEST(HostileMoneySignerE2E, AGatewayKilledWhileThePinIsCheckedStillCountsTheGuess) {
  test::RunningAppliance app(std::string(kOpenLimits) + "signer.workers = 2\n", false, "", test::raisedBudgets());
  app.enroll("phone", "+8613800138031");
  ASSERT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
  test::RawPhone phone(app, "phone");
  auto signer = test::childrenOf(app.mpaydPid(), "mpay-signer");
  ASSERT_FALSE(signer.empty());
  std::vector<pid_t> stopped = signer;
  std::vector<pid_t> workers;
  for (pid_t parent : signer)
    for (pid_t worker : test::childrenOf(parent)) workers.push_back(worker);
  stopped.insert(stopped.end(), workers.begin(), workers.end());
  for (pid_t p : stopped) kill(p, SIGSTOP);  // the PIN check will not answer in time
  HttpAnswer lost;
  const std::string body = phone.payBody("KILLED-1", 1, 1234, "tea", "135790");
  std::thread pay([&] {
    try {
      lost = app.post("/v1/pay", body);
    } catch (const std::exception&) {  // the connection dies with the gateway: no answer at all
      lost.status = 0;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the request is inside the signer call
  for (pid_t gateway : test::childrenOf(app.mpaydPid(), "mpay-gateway")) kill(gateway, SIGKILL);
  pay.join();
  EXPECT_NE(lost.status, 200);
  for (pid_t p : stopped) kill(p, SIGCONT);
  ASSERT_TRUE(app.healthyWithin(30)) << app.log();
  // Stopped and continued, the workers live on: the sleeps a stop interrupted
  // resume through restart_syscall, which policy/signer.syscalls allows.
  std::vector<pid_t> after;
  for (pid_t parent : signer)
    for (pid_t worker : test::childrenOf(parent)) after.push_back(worker);
  std::sort(workers.begin(), workers.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, workers) << app.log();
  auto store = gateway::Store::open(app.dev().config().gateway.db_url);
  ASSERT_TRUE(store.ok());
  auto user = store.value()->findUser(phone.phone());
  ASSERT_TRUE(user.ok() && user.value().has_value());
  EXPECT_EQ(user.value()->failed_pins, 1) << "the guess in flight was not counted";
  // Four more wrong PINs lock it, as five in a row would.
  for (std::uint64_t i = 0; i < 4; ++i)
    EXPECT_EQ(test::jsonField(app.post("/v1/pay", phone.payBody("KILLED-" + std::to_string(i + 2), i + 2, 1234, "tea",
                                                                "135790")).body,
                              "error"),
              "bad_pin");
  EXPECT_EQ(test::jsonField(app.post("/v1/pay", phone.payBody("KILLED-9", 9)).body, "error"), "pin_locked");
}

// The signer stops answering between the acquirer's approval and the
// receipt: the phone hears payment_pending (never "try later" for money that
// moved), the approved order is counted, and the appliance completes it by
// itself once the signer is back; the phone's retry then gets that receipt.
TEST(HostileMoneySignerE2E, ApprovedWithoutReceiptIsPendingAndCompletedByTheAppliance) {
  test::RunningAppliance app(std::string(kOpenLimits) + "gateway.signer_timeout_ms = 1000\nsigner.workers = 2\n",
                             false, "", test::raisedBudgets());
  app.enroll("phone", "+8613800138030");
  ASSERT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
  test::RawPhone phone(app, "phone");
  ASSERT_EQ(app.acquirerControl(R"({"delay_ms":600})").status, 200);  // within the test acquirer timeout (1 s)

  HttpAnswer first;
  std::thread pay([&] { first = app.post("/v1/pay", phone.payBody("STOPPED-1", 1, 4321)); });
  for (int i = 0; i < 100 && !ledger(app).count("STOPPED-1"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // The acquirer has the order; the signer (parent and workers) stops.
  auto signer = test::childrenOf(app.mpaydPid(), "mpay-signer");
  ASSERT_FALSE(signer.empty());
  std::vector<pid_t> stopped = signer;
  std::vector<pid_t> workers;
  for (pid_t parent : signer)
    for (pid_t worker : test::childrenOf(parent)) workers.push_back(worker);
  stopped.insert(stopped.end(), workers.begin(), workers.end());
  for (pid_t p : stopped) kill(p, SIGSTOP);
  pay.join();
  EXPECT_EQ(first.status, 504) << first.body;
  EXPECT_EQ(test::jsonField(first.body, "error"), "payment_pending") << first.body;
  ASSERT_EQ(ledger(app).at("STOPPED-1").result, "approved");
  EXPECT_EQ(storedOrderState(app, "STOPPED-1"), "unknown");
  // A completer pass (every 2 s; it tries the stopped signer too) publishes the count.
  std::string metrics;
  for (int i = 0; i < 60; ++i) {
    metrics = app.metrics().body;
    if (metrics.find("mpay_orders_approved_without_receipt 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(metrics.find("mpay_orders_approved_without_receipt 1"), std::string::npos) << metrics;

  for (pid_t p : stopped) kill(p, SIGCONT);
  ASSERT_EQ(app.acquirerControl(R"({"delay_ms":0})").status, 200);
  std::string state;
  for (int i = 0; i < 150 && state != "approved"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = storedOrderState(app, "STOPPED-1");
  }
  EXPECT_EQ(state, "approved") << app.log();
  for (int i = 0; i < 50; ++i) {
    metrics = app.metrics().body;
    if (metrics.find("mpay_orders_approved_without_receipt 0") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(metrics.find("mpay_orders_approved_without_receipt 0"), std::string::npos) << metrics;
  auto retry = app.post("/v1/pay", phone.payBody("STOPPED-1", 2, 4321));
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "amount_minor"), "4321");
  EXPECT_EQ(test::jsonField(retry.body, "transaction_no"), ledger(app).at("STOPPED-1").transaction_no);
  EXPECT_EQ(test::jsonField(app.acquirerStats().body, "authorizations"), "1");
}

// The acquirer fails after the phone's payment was verified: the order is
// open. An operator sees it with `mpay-admin orders` and, with the gateway
// stopped (so that its own completer cannot be first), completes it with
// `mpay-admin orders complete`: one debit, the receipt stored, and the
// phone's retry gets it.
TEST(HostileMoneyAdminE2E, AnOperatorListsAndCompletesOpenOrders) {
  test::RunningAppliance app(kOpenLimits, false, "", test::raisedBudgets());
  app.enroll("phone", "+8613800138031");
  ASSERT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
  test::RawPhone phone(app, "phone");
  ASSERT_EQ(app.acquirerControl(R"({"fail_next":100000})").status, 200);
  auto first = app.post("/v1/pay", phone.payBody("OPERATOR-1", 1, 2500));
  EXPECT_EQ(test::jsonField(first.body, "error"), "payment_pending") << first.body;

  auto listed = app.admin("orders");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("\nOPERATOR-1 "), std::string::npos) << listed.output;  // a row of the table
  EXPECT_NE(listed.output.find("open: 1"), std::string::npos) << listed.output;

  auto gateway = test::childrenOf(app.mpaydPid(), "mpay-gateway");
  ASSERT_EQ(gateway.size(), 1u);
  kill(gateway[0], SIGSTOP);
  ASSERT_EQ(app.acquirerControl(R"({"fail_next":0})").status, 200);
  auto completed = app.admin("orders complete");
  kill(gateway[0], SIGCONT);
  ASSERT_EQ(completed.exit_code, 0) << completed.output;
  EXPECT_NE(completed.output.find("order=OPERATOR-1 result=final"), std::string::npos) << completed.output;
  EXPECT_EQ(completed.output.find("\nOPERATOR-1 "), std::string::npos) << completed.output;
  EXPECT_NE(completed.output.find("open: 0"), std::string::npos) << completed.output;
  EXPECT_EQ(storedOrderState(app, "OPERATOR-1"), "approved");
  ASSERT_EQ(ledger(app).count("OPERATOR-1"), 1u);
  EXPECT_EQ(ledger(app).at("OPERATOR-1").amount_minor, 2500u);

  auto retry = app.post("/v1/pay", phone.payBody("OPERATOR-1", 2, 2500));
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(test::jsonField(retry.body, "transaction_no"), ledger(app).at("OPERATOR-1").transaction_no);
}

}  // namespace
}  // namespace mpay
