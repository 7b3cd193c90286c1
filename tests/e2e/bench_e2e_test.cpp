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

// The floor: the same login and payment work on a throwaway token in the
// bench's own process; each end-to-end rate is printed as a ratio of it, the
// memory of each of the appliance's processes by pid, and both flows again
// in open loop at half the rate they reached.
TEST(BenchE2E, TheFloorRunsTheSameWorkAndEachRateIsShownAgainstIt) {
  test::RunningAppliance app("", false, "", test::raisedBudgets());
  auto run = app.bench("--phones 4 --threads 2 --seconds 0.5 --floor --open-loop 0.5 --mpayd-pid " +
                       std::to_string(app.mpaydPid()));
  EXPECT_EQ(run.exit_code, 0) << run.output << "\n---- mpayd.log ----\n" << app.log();
  for (const char* line : {"\nlogin floor ", "\npay floor ", "x floor (", "rss: signer-parent[", " signer-worker[",
                           " gateway[", "\nlogin open-loop ", "\npay open-loop ", "(scheduled "})
    EXPECT_NE(run.output.find(line), std::string::npos) << line << "\n" << run.output;
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
