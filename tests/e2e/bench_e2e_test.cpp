// mpay-bench against a real appliance: phones from several threads at once,
// every answer checked. Speeds are not asserted here (they live in
// scripts/bench); that concurrent phones all succeed is.
#include <gtest/gtest.h>

#include <string>

#include "support/running_appliance.h"

namespace mpay {
namespace {

TEST(BenchE2E, ConcurrentPhonesEnrolLogInAndPayWithEveryAnswerOk) {
  test::RunningAppliance app("", false, "", test::raisedBudgets());
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
