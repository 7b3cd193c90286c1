#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "hsm/module.h"
#include "hsm/token.h"
#include "suite/primitives.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

TEST(Token, LoadsTheModuleByItsP11KitName) {
  test::DevAppliance appliance;
  HsmConfig hsm_config = appliance.config().hsm;
  hsm_config.module = "p11-kit:softhsm2";
  auto policy = hsm::KeyPolicy::load(appliance.config().policy_dir + "/keys").value();
  auto token = hsm::Token::open(hsm_config, policy, 1);
  ASSERT_TRUE(token.ok()) << token.error().detail;
  EXPECT_EQ(token.value()->platform()->service_point.size(), 65u);
  EXPECT_FALSE(hsm::Module::load("p11-kit:no-such-module").ok());
}

TEST(Token, WrongTokenUriIsReported) {
  test::DevAppliance appliance;
  HsmConfig hsm_config = appliance.config().hsm;
  hsm_config.token_uri = "pkcs11:token=not-there";
  auto token = hsm::Token::open(hsm_config, hsm::KeyPolicy::load(appliance.config().policy_dir + "/keys").value(), 1);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kHsmUnavailable);
  hsm_config.token_uri = "not a uri";
  EXPECT_FALSE(hsm::Token::open(hsm_config, hsm::KeyPolicy::load(appliance.config().policy_dir + "/keys").value(), 1).ok());
}

TEST(Token, PinFileReadableByOthersIsRefused) {
  test::DevAppliance appliance;
  chmod(appliance.config().hsm.pin_file.c_str(), 0644);
  auto pin = hsm::readPinFile(appliance.config().hsm.pin_file);
  ASSERT_FALSE(pin.ok());
  EXPECT_NE(pin.error().detail.find("owner only"), std::string::npos);
}

TEST(Token, WrongPinIsAConfigurationError) {
  test::DevAppliance appliance;
  std::ofstream(appliance.config().hsm.pin_file, std::ios::trunc) << "00000000\n";
  auto token = appliance.config();
  auto opened = hsm::Token::open(token.hsm, hsm::KeyPolicy::load(token.policy_dir + "/keys").value(), 1);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kConfig);
}

TEST(Token, SealOpensOnlyWithTheSameAad) {
  test::DevAppliance appliance;
  auto token = appliance.openToken();
  auto sealed = token->call<Bytes>([](hsm::Lane& lane) {
    return lane.seal(lane.keys().kek, asBytes("aad-1"), asBytes("session keys"));
  });
  ASSERT_TRUE(sealed.ok()) << sealed.error().detail;
  auto opened = token->call<Secret>([&](hsm::Lane& lane) { return lane.open(lane.keys().kek, asBytes("aad-1"), sealed.value()); });
  ASSERT_TRUE(opened.ok()) << opened.error().detail;
  EXPECT_EQ(opened->exposeSecretText(), "session keys");
  auto wrong = token->call<Secret>([&](hsm::Lane& lane) { return lane.open(lane.keys().kek, asBytes("aad-2"), sealed.value()); });
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kDecryptFailed) << wrong.error().detail;
}

// Each lane opens its own session and copies the keys into it; the copies
// share the keys' labels, and the next lane must still find the one token key.
TEST(Token, LanesOpenedAtTheSameTimeEachFindTheTokenKeys) {
  test::DevAppliance appliance;
  constexpr int kLanes = 4;
  auto token = appliance.openToken(kLanes);
  std::mutex mutex;
  std::condition_variable all_in;
  int inside = 0;
  std::vector<Status> results(kLanes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLanes; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = token->run([&](hsm::Lane& lane) -> Status {
        MPAY_RETURN_IF_ERROR(lane.seal(lane.keys().kek, asBytes("aad"), asBytes("lane")));
        // Hold this lane until every caller has one: four lanes open at once.
        std::unique_lock lock(mutex);
        ++inside;
        all_in.notify_all();
        all_in.wait_for(lock, std::chrono::seconds(20), [&] { return inside >= kLanes; });
        return {};
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(inside, kLanes);
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(token->health(), hsm::Health::kHealthy);
}

TEST(Token, RecoversWhenAllSessionsAreClosedMidRun) {
  test::DevAppliance appliance;
  auto token = appliance.openToken(2);
  auto mac = [&] { return token->call<Bytes>([](hsm::Lane& lane) { return lane.hmac(lane.keys().verifier, asBytes("x")); }); };
  auto first = mac();
  ASSERT_TRUE(first.ok());
  // Pull the rug: every session of this application is closed, login is lost,
  // and the session copies of the keys are gone with them.
  ASSERT_EQ(token->functions()->C_CloseAllSessions(token->slot()), CKR_OK);
  auto second = mac();
  ASSERT_TRUE(second.ok()) << second.error().detail;
  EXPECT_EQ(first.value(), second.value());
  EXPECT_EQ(token->health(), hsm::Health::kHealthy);
}

TEST(Token, RecoversAfterTheModuleIsFinalized) {
  test::DevAppliance appliance;
  auto token = appliance.openToken(1);
  ASSERT_TRUE(token->call<Secret>([](hsm::Lane& lane) { return lane.random(8); }).ok());
  // Like a device reset: the library forgets everything (CKR_CRYPTOKI_NOT_INITIALIZED).
  ASSERT_EQ(token->functions()->C_Finalize(nullptr), CKR_OK);
  auto again = token->call<Secret>([](hsm::Lane& lane) { return lane.random(8); });
  ASSERT_TRUE(again.ok()) << again.error().detail;
  EXPECT_EQ(token->health(), hsm::Health::kHealthy);
}

// SoftHSM2 rewrites token.object in place at each login that is not "already
// logged in": a worker killed in the middle leaves a token nobody can open.
// The rotation watch polls every two seconds on the session the token keeps,
// without logging in again.
TEST(Token, WatchingForARotationLeavesTheTokenFilesAlone) {
  test::DevAppliance appliance;
  auto token = appliance.openToken(1);
  std::filesystem::path token_object;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(appliance.dir() + "/token"))
    if (entry.path().filename() == "token.object") token_object = entry.path();
  ASSERT_FALSE(token_object.empty());
  struct stat before {};
  ASSERT_EQ(stat(token_object.c_str(), &before), 0);
  for (int i = 0; i < 3; ++i) {
    auto changed = token->reloadIfRotated();
    ASSERT_TRUE(changed.ok()) << changed.error().detail;
    EXPECT_FALSE(changed.value());
  }
  struct stat after {};
  ASSERT_EQ(stat(token_object.c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec) << "a poll logged in again";
  // With every session gone (the login with them), the watch opens a new one.
  ASSERT_EQ(token->functions()->C_CloseAllSessions(token->slot()), CKR_OK);
  auto again = token->reloadIfRotated();
  ASSERT_TRUE(again.ok()) << again.error().detail;
  EXPECT_FALSE(again.value());
}

TEST(Token, ReportsUnavailableWhileTheTokenIsGoneAndHealsAfter) {
  test::DevAppliance appliance;
  auto token = appliance.openToken(1);
  const std::string conf = appliance.config().hsm.softhsm2_conf;
  ASSERT_EQ(token->functions()->C_Finalize(nullptr), CKR_OK);
  // The token directory disappears (a removed device): recovery cannot find it.
  const std::string tokendir = appliance.dir() + "/token";
  ASSERT_EQ(std::system(("mv " + tokendir + " " + tokendir + ".away").c_str()), 0);
  auto down = token->call<Secret>([](hsm::Lane& lane) { return lane.random(8); });
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kHsmUnavailable);
  EXPECT_EQ(token->health(), hsm::Health::kDown);
  ASSERT_EQ(std::system(("mv " + tokendir + ".away " + tokendir).c_str()), 0);
  auto back = token->call<Secret>([](hsm::Lane& lane) { return lane.random(8); });
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_EQ(token->health(), hsm::Health::kHealthy);
}

}  // namespace
}  // namespace mpay
