#include <gtest/gtest.h>

#include <fstream>

#include "common/config.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

const char kValid[] =
    "[paths]\npublic_dir = /p\npolicy_dir = /q\n"
    "[hsm]\nmodule = /m.so\ntoken_uri = pkcs11:token=mpay\npin_file = /pin\n"
    "[signer]\nsocket = /s.sock\naudit_log = /a.log\nworkers = 2\n";

std::string write(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/mpay.ini";
  std::ofstream(path) << text;
  return path;
}

TEST(Config, LoadsAValidFile) {
  test::TempDir dir;
  auto c = Config::load(write(dir, kValid));
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->hsm.token_uri, "pkcs11:token=mpay");
  EXPECT_EQ(c->signer.workers, 2);
  EXPECT_EQ(c->signer.threads, 4);
  EXPECT_EQ(c->signer.pkcs12_iterations, 200000);
}

TEST(Config, UnknownKeyIsAnError) {
  test::TempDir dir;
  auto c = Config::load(write(dir, std::string(kValid) + "socket_mode = 0777\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kConfig);
  EXPECT_NE(c.error().detail.find("signer.socket_mode"), std::string::npos);
}

TEST(Config, UnknownSectionIsAnError) {
  test::TempDir dir;
  EXPECT_FALSE(Config::load(write(dir, std::string(kValid) + "[extra]\nx = 1\n")).ok());
}

TEST(Config, MissingRequiredKeyAndBadNumbersAreErrors) {
  test::TempDir dir;
  std::string no_pin(kValid);
  no_pin.replace(no_pin.find("pin_file = /pin\n"), 16, "");
  EXPECT_FALSE(Config::load(write(dir, no_pin)).ok());
  EXPECT_FALSE(Config::load(write(dir, std::string(kValid) + "threads = many\n")).ok());
  EXPECT_FALSE(Config::load(write(dir, std::string(kValid) + "threads = 1000\n")).ok());
  EXPECT_FALSE(Config::load(dir.path() + "/missing.ini").ok());
}

TEST(Config, SignerConnectionsDefaultToEveryThreadTheSignerServes) {
  test::TempDir dir;
  auto c = Config::load(write(dir, std::string(kValid)));  // 2 workers x 4 threads
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->gateway.signer_connections, 8);
}

TEST(Config, MoreSignerConnectionsThanTheSignerServesIsAnError) {
  test::TempDir dir;
  // 2 workers x 4 threads serve 8 connections at once.
  EXPECT_TRUE(Config::load(write(dir, std::string(kValid) + "[gateway]\nsigner_connections = 8\n")).ok());
  auto c = Config::load(write(dir, std::string(kValid) + "[gateway]\nsigner_connections = 9\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kConfig);
  EXPECT_NE(c.error().detail.find("signer.workers (2) x signer.threads (4) = 8"), std::string::npos) << c.error().detail;
}

}  // namespace
}  // namespace mpay
