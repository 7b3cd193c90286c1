// mpay-bench against a real appliance: phones from several threads at once,
// every answer checked. Speeds are not asserted here (they live in
// scripts/bench); that concurrent phones all succeed is.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
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

// The rest of the bench's measures on a small scale: the floor's work
// through the signer's socket (as the gateway), the pay phase among 1,000
// synthetic users and then among more with the hot queries' plans, idle
// keep-alive connections held while the gateway's memory is read, and the
// open-loop latency curve drawn. The appliance's own settings stay (64
// connections from one address), so the idle connections fit under them.
TEST(BenchE2E, SignerSocketScaleInDataIdleConnectionsAndTheCurveAreMeasured) {
  test::RunningAppliance app("", false, "", test::raisedBudgets());
  const std::string curve = "/tmp/mpay-bench-curve-" + std::to_string(getpid()) + ".svg";
  auto run = app.benchAsGateway("--phones 4 --threads 2 --seconds 0.3 --floor --signer " +
                                app.dev().config().signer.socket + " --acquirer-key " +
                                app.dev().config().acquirer_sim.signing_key + " --preload 2500 --database " +
                                app.dev().config().gateway.db_url + " --idle-connections 20 --curve " + curve +
                                " --mpayd-pid " + std::to_string(app.mpaydPid()));
  EXPECT_EQ(run.exit_code, 0) << run.output << "\n---- mpayd.log ----\n" << app.log();
  for (const char* line : {"\nlogin signer ", "\npay signer ", "x in-process (", "\npreload ", "\npreload         1000 synthetic users",
                           "\npreload         2500 synthetic users", "plan: session by id (payment)", "plan: open orders (completer)",
                           "\npay among 2500 users ", "x pay among 1000 users", "\nlogin curve 0.10 ",
                           "\npay curve 0.90 ", "20 keep-alive connections held open (20 answered)", " gateway["})
    EXPECT_NE(run.output.find(line), std::string::npos) << line << "\n" << run.output;
  EXPECT_EQ(run.output.find("failed:"), std::string::npos) << run.output;
  std::ifstream svg(curve);
  std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("<svg ", 0), 0u) << text.substr(0, 200);
  EXPECT_NE(text.find("pay p99"), std::string::npos);
  std::remove(curve.c_str());
}

TEST(BenchE2E, AMissedTargetIsNamedAndFailsTheRun) {
  test::RunningAppliance app;
  auto run = app.bench("--phones 2 --threads 1 --seconds 0.2 --min-payments-per-s 1000000000");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("MISSED: payments"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace mpay
