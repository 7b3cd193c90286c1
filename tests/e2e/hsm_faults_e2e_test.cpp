// HSM faults injected for real, below PKCS#11: the signer loads
// tests/faulty_pkcs11 (SoftHSM2 behind a module that fails on command).
// A lost session is reopened and the request succeeds; a device error or a
// token gone answers 503 and an unhealthy /healthz, without restarting the
// signer, and heals by itself; a hang is bounded by gateway.signer_timeout_ms.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/running_appliance.h"

namespace mpay {
namespace {

using Clock = std::chrono::steady_clock;

std::string faultyModuleSettings() {
  return "hsm.module = " + test::binDir() + "/libmpay_faulty_pkcs11.so\n";
}

class HsmFaultsE2E : public ::testing::Test {
 protected:
  HsmFaultsE2E() : app_(faultyModuleSettings() + "gateway.signer_timeout_ms = 1000\n") {}
  void SetUp() override { app_.enroll("phone", "+8613800138050"); }

  std::string faultFile() const { return app_.dev().config().hsm.token_dir + "/mpay-pkcs11-fault"; }
  // Written whole and renamed into place: the module never reads half a command.
  void inject(const std::string& command) const {
    const std::string staged = faultFile() + ".new";
    std::ofstream(staged) << command << "\n";
    ::chmod(staged.c_str(), 0666);  // the signer's user rewrites the count
    std::rename(staged.c_str(), faultFile().c_str());
  }
  void heal() const { std::remove(faultFile().c_str()); }
  std::string command() const {
    std::ifstream in(faultFile());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  test::CommandOutput logIn() const { return app_.client("phone", std::string("login --password '") + test::kPassword + "'"); }
  // The signer's parent and workers: a restart would change them.
  std::vector<pid_t> signerProcesses() const {
    auto out = test::childrenOf(app_.mpaydPid(), "mpay-signer");
    if (!out.empty())
      for (pid_t worker : test::childrenOf(out.front())) out.push_back(worker);
    return out;
  }

  void outageHealsByItself(const std::string& fault) {
    const auto before = signerProcesses();
    inject(fault + " -1");
    auto refused = logIn();
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    EXPECT_NE(refused.output.find("signer_unavailable"), std::string::npos) << refused.output;
    auto health = app_.get("/healthz");
    EXPECT_EQ(health.status, 503) << health.body;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(app_.get("/healthz").status, 503);
    heal();
    EXPECT_TRUE(app_.healthyWithin(10)) << app_.log();
    EXPECT_EQ(logIn().exit_code, 0);
    EXPECT_EQ(signerProcesses(), before) << "no restart: the token recovers inside the workers";
    EXPECT_NE(app_.log().find("event=hsm_lost"), std::string::npos);
  }

  test::RunningAppliance app_;
};

TEST_F(HsmFaultsE2E, ALostSessionIsReopenedAndTheRequestSucceeds) {
  inject("session_handle_invalid 1");
  auto login = logIn();
  EXPECT_EQ(login.exit_code, 0) << login.output;
  EXPECT_EQ(command(), "session_handle_invalid 0\n") << "the fault fired";
  EXPECT_NE(app_.log().find("event=hsm_recovered"), std::string::npos) << app_.log();
}

TEST_F(HsmFaultsE2E, ADeviceErrorIsAnOutageThatHealsByItself) { outageHealsByItself("device_error"); }

TEST_F(HsmFaultsE2E, AMissingTokenIsAnOutageThatHealsByItself) { outageHealsByItself("token_not_present"); }

TEST_F(HsmFaultsE2E, AHangingTokenIsBoundedBySignerTimeout) {
  inject("hang -1");
  const auto began = Clock::now();
  auto health = app_.get("/healthz");
  const auto took = Clock::now() - began;
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_LT(took, std::chrono::milliseconds(3000)) << "gateway.signer_timeout_ms is 1000";
  heal();
  EXPECT_TRUE(app_.healthyWithin(15)) << app_.log();
  EXPECT_EQ(logIn().exit_code, 0);
}

}  // namespace
}  // namespace mpay
