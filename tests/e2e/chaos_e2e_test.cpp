// The short chaos run of the test command (scripts/chaos is the long one):
// phones pay while ten of mpayd's children are killed at random; then, once
// the appliance has completed what was pending, the acquirer simulator's
// reconciliation file and the database agree — no debit without its
// receipt, no receipt without its debit, no double debit, every amount the
// same — and every answer a phone got was ok, a documented retryable error
// or payment_pending. On SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/running_appliance.h"

namespace mpay {
namespace {

TEST(ChaosE2E, KillsUnderLoadLoseNoMoneyAndTheBooksBalance) {
  test::RunningAppliance app(
      "gateway.rate_per_phone = 100000\ngateway.rate_per_source = 100000\ngateway.max_threads = 32\n"
      "gateway.signer_timeout_ms = 2000\ngateway.acquirer_timeout_ms = 2000\n",
      false, "", test::raisedBudgets());
  auto run = app.bench("--phones 6 --chaos-kills 10 --chaos-seconds 20 --mpayd-pid " + std::to_string(app.mpaydPid()));
  std::printf("%s", run.output.c_str());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(app.healthyWithin(30)) << app.log();
  test::expectOrdersClosedAndBooksBalanced(app, app.dev().config().acquirer_sim.ledger);

  // The check can fail: a debit the appliance never heard of is found.
  const std::string forged = app.dev().dir() + "/forged-ledger.jsonl";
  std::ofstream(forged) << std::ifstream(app.dev().config().acquirer_sim.ledger).rdbuf()
                        << R"({"order_no":"NEVER-SEEN","result":"approved","transaction_no":"SIM999999",)"
                        << R"("amount_minor":100,"currency":"CNY"})" << "\n";
  auto caught = app.admin("reconcile --ledger " + forged);
  EXPECT_EQ(caught.exit_code, 1) << caught.output;
  EXPECT_NE(caught.output.find("DISCREPANCY NEVER-SEEN"), std::string::npos) << caught.output;
}

}  // namespace
}  // namespace mpay
