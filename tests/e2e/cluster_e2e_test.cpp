// The cluster of docs/operations.md ("A cluster"), in the test command:
// HAProxy in front of two appliances (the second's token cloned from the
// first's), one PostgreSQL primary with a synchronous standby, one acquirer.
// Phones run the four flows through the balancer and land on both; one
// order sent to both appliances at once gives one debit and one receipt;
// guesses spread over both reach the check at most the threshold; an
// appliance killed under load and a database failover under load lose no
// money and the books balance (ClusterChaosE2E: run by scripts/cluster, whose
// short form is in the test command and long form is the script's default).
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "support/cluster.h"
#include "support/raw_phone.h"
#include "support/together.h"

namespace mpay {
namespace {

using test::countErrors;
using test::describe;
using test::kPassword;
using test::kPin;

constexpr char kOpenLimits[] =
    "gateway.rate_per_phone = 100000\ngateway.rate_per_source = 100000\ngateway.max_connections_per_source = 0\n"
    "gateway.max_threads = 32\ngateway.max_queued = 256\ngateway.signer_timeout_ms = 2000\n"
    "gateway.acquirer_timeout_ms = 2000\n";

int seconds(const char* variable, int fallback) {
  const char* v = std::getenv(variable);
  return v && *v ? std::atoi(v) : fallback;
}

std::map<std::string, std::string> ledgerResults(const test::RunningAppliance& app) {
  Poco::JSON::Parser parser;
  auto entries = parser.parse(app.acquirerLedger().body).extract<Poco::JSON::Object::Ptr>()->getArray("ledger");
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    auto e = entries->getObject(static_cast<unsigned>(i));
    out[e->getValue<std::string>("order_no")] = e->getValue<std::string>("result");
  }
  return out;
}

std::string platformKeys(const test::CommandOutput& check) {
  const auto at = check.output.find("platform keys");
  const auto end = check.output.find("policy ok");
  return at == std::string::npos || end == std::string::npos ? "" : check.output.substr(at, end - at);
}

// The acquirer simulator's reconciliation file (it runs beside appliance a).
std::string ledgerFile(test::Cluster& cluster) { return cluster.a().dev().dir() + "/data/acquirer-ledger.jsonl"; }

class ClusterE2E : public ::testing::Test {
 protected:
  // A device of appliance a, enrolled and logged in.
  test::RawPhone loggedIn(const std::string& device, const std::string& number) {
    cluster_.a().enroll(device, number);
    const auto login = cluster_.a().client(device, std::string("login --password '") + kPassword + "'");
    EXPECT_EQ(login.exit_code, 0) << login.output;
    return test::RawPhone(cluster_.a(), device);
  }
  test::Cluster cluster_{kOpenLimits};
};

TEST_F(ClusterE2E, PhonesRunTheFourFlowsThroughTheBalancerOnBothAppliancesOfOnePlatform) {
  auto& front = cluster_.front();
  for (int i = 0; i < 4; ++i) {
    const std::string device = "phone" + std::to_string(i);
    front.enroll(device, "+86138001390" + std::to_string(i));
    ASSERT_EQ(front.client(device, std::string("login --password '") + kPassword + "'").exit_code, 0);
    for (int j = 0; j < 2; ++j) {
      auto paid = front.client(device, std::string("pay --password '") + kPassword + "' --pin " + kPin +
                                           " --order FLOW-" + std::to_string(i) + "-" + std::to_string(j) +
                                           " --amount 12.34 --currency CNY --json");
      EXPECT_EQ(paid.exit_code, 0) << paid.output;
    }
  }
  const long on_a = cluster_.requestsServed(cluster_.a()), on_b = cluster_.requestsServed(cluster_.b());
  std::printf("API requests served: appliance a %ld, appliance b %ld\n", on_a, on_b);
  EXPECT_GT(on_a, 5);
  EXPECT_GT(on_b, 5);
  // One platform: the same fingerprints on both, as an operator compares them.
  auto check_a = cluster_.a().admin("policy check"), check_b = cluster_.b().admin("policy check");
  EXPECT_EQ(check_a.exit_code, 0) << check_a.output;
  EXPECT_EQ(check_b.exit_code, 0) << check_b.output;
  EXPECT_NE(platformKeys(check_a).find("permit check-value "), std::string::npos) << check_a.output;
  EXPECT_EQ(platformKeys(check_a), platformKeys(check_b));
  EXPECT_EQ(platformKeys(check_a).find(" unknown"), std::string::npos) << check_a.output;
  EXPECT_NE(platformKeys(check_a).find("service public-point-sha256 "), std::string::npos) << check_a.output;
}

TEST_F(ClusterE2E, RegisterOnOneActivateOnTheOtherLogInOnOnePayOnTheOther) {
  // Appliance a's device files, sent to each appliance directly.
  test::RunningAppliance on_a(cluster_.a(), cluster_.a().port()), on_b(cluster_.a(), cluster_.b().port());
  const std::string phone = "+8613800139100";
  auto reg = on_a.client("p", "register --phone '" + phone + "' --imei 356938035643809 --sim 89860012345678901234"
                              " --password '" + kPassword + "' --pin " + kPin +
                              " --name 'Zhang San' --id-number 110101199003070000 --json");
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  auto act = on_b.client("p", "activate --registration-code " + test::jsonField(reg.output, "registration_code") +
                                  " --confirmation-code " + on_b.confirmationCode(phone));
  ASSERT_EQ(act.exit_code, 0) << act.output;
  ASSERT_EQ(on_a.client("p", std::string("login --password '") + kPassword + "'").exit_code, 0);
  const std::string pay = std::string("pay --password '") + kPassword + "' --pin " + kPin +
                          " --amount 1.00 --currency CNY --json --order ";
  auto on_b_paid = on_b.client("p", pay + "ACROSS-1");
  EXPECT_EQ(on_b_paid.exit_code, 0) << on_b_paid.output;
  auto on_a_paid = on_a.client("p", pay + "ACROSS-2");
  EXPECT_EQ(on_a_paid.exit_code, 0) << on_a_paid.output;
  auto ledger = ledgerResults(cluster_.a());
  EXPECT_EQ(ledger["ACROSS-1"], "approved");
  EXPECT_EQ(ledger["ACROSS-2"], "approved");
}

TEST_F(ClusterE2E, OneOrderSentToBothAppliancesAtOnceGivesOneDebitAndOneReceipt) {
  auto& a = cluster_.a();
  auto& b = cluster_.b();
  test::RawPhone phone = loggedIn("phone", "+8613800139200");
  std::vector<std::string> bodies;
  for (std::uint64_t i = 0; i < 40; ++i) bodies.push_back(phone.payBody("RACE-ACROSS", i + 1, 1000 + i));
  auto answers = test::postTogetherAcross({&a, &b}, "/v1/pay", bodies);
  auto counts = countErrors(answers);
  EXPECT_GE(counts["ok"], 1) << describe(counts);
  for (const auto& [code, n] : counts)
    EXPECT_TRUE(code == "ok" || code == "order_conflict" || code == "overloaded") << describe(counts);
  std::set<std::string> receipts, amounts;
  for (const auto& answer : answers)
    if (answer.status == 200) {
      receipts.insert(test::jsonField(answer.body, "receipt"));
      amounts.insert(test::jsonField(answer.body, "amount_minor"));
    }
  EXPECT_EQ(receipts.size(), 1u) << "one order, several receipts";
  EXPECT_EQ(amounts.size(), 1u);
  EXPECT_EQ(test::jsonField(a.acquirerStats().body, "authorizations"), "1");

  // The same payment resent to both at once: the one receipt, every time.
  const std::string again = phone.payBody("RESENT-ACROSS", 100);
  auto resent = countErrors(test::postTogetherAcross({&a, &b}, "/v1/pay", std::vector<std::string>(20, again)));
  EXPECT_EQ(resent["ok"], 20) << describe(resent);
  EXPECT_EQ(test::jsonField(a.acquirerStats().body, "authorizations"), "2");
}

TEST_F(ClusterE2E, GuessesSpreadOverBothAppliancesReachTheCheckAtMostTheThreshold) {
  auto& a = cluster_.a();
  auto& b = cluster_.b();
  test::RawPhone phone = loggedIn("phone", "+8613800139300");
  std::vector<std::string> logins;
  for (int i = 0; i < 24; ++i) logins.push_back(phone.loginBody("wrong password " + std::to_string(i)));
  auto counts = countErrors(test::postTogetherAcross({&a, &b}, "/v1/login", logins));
  EXPECT_LE(counts["bad_credentials"], 5) << describe(counts);  // gateway.lockout_threshold, in the shared database
  EXPECT_EQ(counts["bad_credentials"] + counts["account_locked"], 24) << describe(counts);
  EXPECT_EQ(test::jsonField(b.post("/v1/login", phone.loginBody()).body, "error"), "account_locked");

  (void)loggedIn("payer", "+8613800139301");
  std::vector<std::string> payments;
  for (int i = 0; i < 24; ++i) {
    test::RawPhone session(a, "payer");
    ASSERT_TRUE(session.logIn(i % 2 ? b : a));
    payments.push_back(session.payBody("WRONG-PIN-" + std::to_string(i), 1, 1234, "tea", "135790"));
  }
  auto pins = countErrors(test::postTogetherAcross({&a, &b}, "/v1/pay", payments));
  EXPECT_LE(pins["bad_pin"], 5) << describe(pins);
  EXPECT_EQ(pins["bad_pin"] + pins["pin_locked"], 24) << describe(pins);
}

// The chaos and failover steps: the test command runs them through
// scripts/cluster (its short form), not by discovery; `scripts/cluster` with
// longer runs is the long form.
class ClusterChaosE2E : public ClusterE2E {
 protected:
  // The gateways reconnected by themselves: mpayd restarted none.
  static void expectNoGatewayRestart(const test::RunningAppliance& app) {
    EXPECT_EQ(app.log().find("event=child_exited name=mpay-gateway"), std::string::npos) << app.log();
  }
};

TEST_F(ClusterChaosE2E, AnApplianceKilledUnderLoadLosesNoMoneyAndTheOtherCompletesItsOrders) {
  auto& front = cluster_.front();
  const int run_seconds = seconds("MPAY_CLUSTER_SECONDS", 18);
  auto run = front.bench("--phones " + std::to_string(seconds("MPAY_CLUSTER_PHONES", 6)) + " --kill-appliance " +
                         std::to_string(cluster_.a().mpaydPid()) + " --chaos-seconds " + std::to_string(run_seconds));
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("appliance mpayd"), std::string::npos) << run.output;
  // The balancer took the dead one out and keeps the other in.
  EXPECT_EQ(cluster_.balancerStatus("a").rfind("DOWN", 0), 0u) << cluster_.balancerStatus("a");
  EXPECT_EQ(cluster_.balancerStatus("b"), "UP");
  ASSERT_TRUE(cluster_.b().healthyWithin(10));
  test::expectOrdersClosedAndBooksBalanced(cluster_.b(), ledgerFile(cluster_));
}

// Deterministic, where the load test above leaves it to chance: appliance a
// dies after the acquirer approved an order and before the receipt; b's
// completer finishes it with a's permit (its table of other appliances'
// permits), one debit, and the phone's retry at b gets that receipt.
TEST_F(ClusterE2E, AnOrderADeadApplianceLeftOpenIsCompletedByTheOtherWithItsPermit) {
  auto& a = cluster_.a();
  auto& b = cluster_.b();
  test::RawPhone phone = loggedIn("phone", "+8613800139400");
  ASSERT_EQ(a.acquirerControl(R"({"delay_ms":800})").status, 200);
  std::thread pay([&] {
    try {
      (void)a.post("/v1/pay", phone.payBody("LEFT-OPEN-1", 1, 4321));
    } catch (const std::exception&) {  // a dies with the request in hand
    }
  });
  for (int i = 0; i < 200 && !ledgerResults(a).count("LEFT-OPEN-1"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(ledgerResults(a)["LEFT-OPEN-1"], "approved");
  // mpayd first (it restarts nothing), then everything it started.
  std::vector<pid_t> tree{a.mpaydPid()};
  for (std::size_t i = 0; i < tree.size(); ++i)
    for (pid_t child : test::childrenOf(tree[i])) tree.push_back(child);
  for (pid_t p : tree) kill(p, SIGKILL);
  pay.join();
  ASSERT_EQ(a.acquirerControl(R"({"delay_ms":0})").status, 200);

  // b's completer takes the order once a's claim on it has run out.
  std::string receipt;
  for (int i = 0; i < 60 && receipt.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto retry = b.post("/v1/pay", phone.payBody("LEFT-OPEN-1", 2 + static_cast<std::uint64_t>(i), 4321));
    if (retry.status == 200) receipt = retry.body;
  }
  ASSERT_FALSE(receipt.empty()) << "b never completed the order";
  EXPECT_EQ(test::jsonField(receipt, "amount_minor"), "4321");
  EXPECT_EQ(test::jsonField(a.acquirerStats().body, "authorizations"), "1");
  std::ifstream log(b.dev().config().signer.audit_log);
  const std::string audit((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(audit.find("foreign_permit="), std::string::npos) << "b did not spend a's permit";
}

TEST_F(ClusterChaosE2E, TheDatabaseFailsOverUnderLoadAndNoApprovedPaymentIsLost) {
  ASSERT_TRUE(cluster_.db().standbyIsSynchronous());
  auto& front = cluster_.front();
  const int run_seconds = seconds("MPAY_CLUSTER_SECONDS", 18);
  auto run = front.bench("--phones " + std::to_string(seconds("MPAY_CLUSTER_PHONES", 6)) + " --chaos-command '" +
                         cluster_.db().failoverCommand() + "' --chaos-seconds " + std::to_string(run_seconds));
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("(exit 0,"), std::string::npos) << run.output;
  // The outage is bounded: detection (two failed health checks), promotion,
  // reconnection, the balancer's two good checks.
  std::smatch stretch;
  ASSERT_TRUE(std::regex_search(run.output, stretch, std::regex("longest stretch without a successful payment: ([0-9]+) ms")))
      << run.output;
  EXPECT_LT(std::stol(stretch[1].str()), 15000) << run.output;
  // Both appliances reconnected by themselves (to the promoted standby).
  ASSERT_TRUE(cluster_.a().healthyWithin(10));
  ASSERT_TRUE(cluster_.b().healthyWithin(10));
  expectNoGatewayRestart(cluster_.a());
  expectNoGatewayRestart(cluster_.b());
  test::expectOrdersClosedAndBooksBalanced(cluster_.a(), ledgerFile(cluster_));
}

TEST(ClusterBalancerE2E, ThePerSourceLimitIsTheBalancersForTheWholeCluster) {
  test::Cluster cluster(kOpenLimits, 40);
  int limited = 0, ok = 0;
  for (int i = 0; i < 60; ++i) {
    auto answer = cluster.front().get("/v1/platform");
    if (answer.status == 429) {
      EXPECT_EQ(test::jsonField(answer.body, "error"), "rate_limited") << answer.body;
      ++limited;
    } else if (answer.status == 200) {
      ++ok;
    }
  }
  std::printf("through the balancer: %d ok, %d rate_limited (limit 40 a minute per address)\n", ok, limited);
  EXPECT_LE(ok, 41);
  EXPECT_GE(limited, 19);
  // The appliances themselves still answer (their own limits are per appliance).
  EXPECT_EQ(cluster.a().get("/v1/platform").status, 200);
  EXPECT_EQ(cluster.b().get("/v1/platform").status, 200);
}

// Sizing for docs/operations.md ("A cluster"): the same load against one
// appliance directly, then against both through the balancer. Not in the
// test command (a measurement, not a check; on two cores both appliances
// share them): scripts/cluster --sizing runs it on a release build.
TEST(ClusterSizing, DISABLED_OneApplianceThenTwoBehindTheBalancer) {
  test::Cluster cluster(kOpenLimits);
  // Enough threads that the appliances, not the phones' round trips, set the pace.
  const std::string load = "--phones " + std::to_string(seconds("MPAY_CLUSTER_PHONES", 32)) + " --threads 16 --seconds " +
                           std::to_string(seconds("MPAY_CLUSTER_SECONDS", 20));
  auto one = cluster.a().bench(load);
  std::printf("---- one appliance, directly ----\n%s", one.output.c_str());
  auto two = cluster.front().bench(load);
  std::printf("---- two appliances, through HAProxy ----\n%s", two.output.c_str());
  // At saturation some payments wait past the acquirer's timeout
  // (payment_pending): a measurement, so only "both paid" is required.
  EXPECT_NE(one.output.find("\npay "), std::string::npos) << one.output;
  EXPECT_NE(two.output.find("\npay "), std::string::npos) << two.output;
}

}  // namespace
}  // namespace mpay
