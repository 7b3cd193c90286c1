// mpay-bench against a real appliance: phones from several threads at once,
// every answer checked. Speeds are not asserted here (they live in
// scripts/bench); that concurrent phones all succeed is.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/running_appliance.h"

namespace mpay {
namespace {

// policy/signer.ops with every budget raised, as scripts/bench runs it: the
// shipped budgets (20 registrations and 100 logins a second, a few a minute
// per user) would answer a load test with rate_limited, which the policy
// tests cover.
std::string raisedBudgets() {
  std::ifstream in(test::sourceDir() + "/policy/signer.ops");
  std::stringstream text;
  text << in.rdbuf();
  std::string ops = std::regex_replace(text.str(), std::regex("rate=[0-9]+/s"), "rate=1000000/s");
  return std::regex_replace(ops, std::regex("per_user=[0-9]+/min"), "per_user=100000000/min");
}

TEST(BenchE2E, ConcurrentPhonesEnrolLogInAndPayWithEveryAnswerOk) {
  test::RunningAppliance app("", false, "", raisedBudgets());
  auto run = app.bench("--phones 24 --threads 4 --seconds 1");
  EXPECT_EQ(run.exit_code, 0) << run.output << "\n---- mpayd.log ----\n" << app.log();
  for (const char* phase : {"\nenrol ", "\nlogin ", "\npay "})
    EXPECT_NE(run.output.find(phase), std::string::npos) << phase << "\n" << run.output;
  EXPECT_EQ(run.output.find("failed:"), std::string::npos) << run.output;
}

TEST(BenchE2E, AMissedTargetIsNamedAndFailsTheRun) {
  test::RunningAppliance app;
  auto run = app.bench("--phones 2 --threads 1 --seconds 0.2 --min-payments-per-s 1000000000");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("MISSED: payments"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace mpay
