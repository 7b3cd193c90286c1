// The running processes enforce policy/: something just outside each
// allow-list is refused (test builds carry the probes; production has none).
#include <gtest/gtest.h>

#include <Poco/Exception.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "gateway/signer_client.h"
#include "sandbox/sandbox.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

Bytes probe(std::uint8_t kind, const std::string& path = "") {
  ByteWriter w;
  w.u8(kind);
  if (kind == 2) w.field(path);
  return w.take();
}

class SandboxE2E : public ::testing::Test {
 protected:
  test::RunningAppliance app_;
  // Raw call of the test-only probe on the signer socket (this uid has the admin role in a dev config).
  Result<Bytes> signerProbe(const Bytes& payload) {
    auto client = gateway::SignerClient::connect(app_.dev().config().signer.socket, 5000);
    if (!client) return client.error();
    auto body = client->exchangeRaw(wire::encodeRequest(wire::OpId::kTestProbe, 1, payload));
    if (!body) return body.error();
    if (body->size() < wire::kHeaderLen || (*body)[1] != 0 || (*body)[2] != 0)
      return fail(ErrorCode::kInternal, "probe refused");
    return Bytes(body->begin() + wire::kHeaderLen, body->end());
  }
};

TEST_F(SandboxE2E, SignerFilesOutsidePolicyCannotBeOpened) {
  const auto& c = app_.dev().config();
  auto pin = signerProbe(probe(2, c.hsm.pin_file));
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(pin->at(0), EACCES) << "the PIN file is not in policy/signer.fs";
  auto data = signerProbe(probe(2, app_.dev().dir() + "/data"));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->at(0), EACCES) << "the gateway's data directory is not in policy/signer.fs";
  auto conf = signerProbe(probe(2, c.hsm.softhsm2_conf));
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->at(0), 0) << "softhsm2.conf is allowed (read)";
}

TEST_F(SandboxE2E, ASignerSystemCallOutsidePolicyKillsTheWorkerAndItIsReplaced) {
  auto killed = signerProbe(probe(1));
  EXPECT_FALSE(killed.ok()) << "the worker must die on ptrace";
  EXPECT_TRUE(app_.healthyWithin(10));
  EXPECT_NE(app_.log().find("status=31"), std::string::npos) << "a worker exited by SIGSYS (31)";
}

// One worker and a long restart delay make the outage long enough to watch:
// the gateway gives up on the signer after its timeout and says so.
TEST(SignerOutageE2E, WhileAKilledSignerIsReplacedTheGatewayAnswers503AndRecoversByItself) {
  test::RunningAppliance app("signer.workers = 1\nsigner.restart_backoff_ms = 5000\ngateway.signer_timeout_ms = 500");
  app.enroll("phone", "+8613800138077");
  ASSERT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);

  auto client = gateway::SignerClient::connect(app.dev().config().signer.socket, 5000);
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client->exchangeRaw(wire::encodeRequest(wire::OpId::kTestProbe, 1, probe(1))).ok())
      << "the only worker dies on ptrace";

  auto health = app.get("/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(test::jsonField(health.body, "error"), "signer_unavailable") << health.body;
  auto login = app.client("phone", std::string("login --password '") + test::kPassword + "'");
  EXPECT_NE(login.exit_code, 0);
  EXPECT_NE(login.output.find("signer_unavailable"), std::string::npos) << login.output;

  ASSERT_TRUE(app.healthyWithin(30)) << "the gateway recovers once the signer is back, without a restart";
  EXPECT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
  EXPECT_NE(app.log().find("status=31"), std::string::npos) << "the worker exited by SIGSYS (31)";
  EXPECT_NE(app.log().find("restart_in_ms=5000"), std::string::npos);
}

TEST_F(SandboxE2E, EachProcessWritesTheDigestOfItsPolicyIntoTheAuditLog) {
  const auto& c = app_.dev().config();
  auto gateway_policy = sandbox::loadPolicy(c, "gateway");
  ASSERT_TRUE(gateway_policy.ok());
  auto signer_policy = sandbox::loadPolicy(c, "signer");
  ASSERT_TRUE(signer_policy.ok());
  std::ifstream in(c.signer.audit_log);
  std::stringstream text;
  text << in.rdbuf();
  const std::string audit = text.str();
  EXPECT_NE(audit.find("\"op\":\"record_start\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("mpay-gateway started, policy sha256=" + gateway_policy->digest), std::string::npos) << audit;
  EXPECT_NE(audit.find("policy/signer.{fs,syscalls} sha256=" + signer_policy->digest), std::string::npos) << audit;
  EXPECT_NE(audit.find("policy/signer.ops sha256="), std::string::npos);
}

TEST_F(SandboxE2E, GatewayFilesOutsidePolicyCannotBeOpened) {
  const auto& c = app_.dev().config();
  for (const std::string& forbidden : {c.hsm.pin_file, c.signer.audit_log, c.hsm.softhsm2_conf}) {
    auto a = app_.get("/test/probe/open?path=" + forbidden);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(test::jsonField(a.body, "errno"), std::to_string(EACCES)) << forbidden;
  }
  auto allowed = app_.get("/test/probe/open?path=/etc/hosts");
  EXPECT_EQ(test::jsonField(allowed.body, "errno"), "0");
}

TEST_F(SandboxE2E, AGatewaySystemCallOutsidePolicyKillsItAndMpaydRestartsIt) {
  EXPECT_THROW(app_.get("/test/probe/syscall"), Poco::Exception);
  EXPECT_TRUE(app_.healthyWithin(10));
}

TEST(SandboxStartup, ABrokenPolicyFileStopsTheProcessAtStart) {
  for (const std::string file : {"signer.syscalls", "gateway.fs"}) {
    test::DevAppliance dev;
    std::ofstream(dev.config().policy_dir + "/" + file, std::ios::app) << "frobnicate everything\n";
    const std::string binary = file.rfind("signer", 0) == 0 ? "mpay-signer" : "mpay-gateway";
    const std::string cmd = test::binDir() + "/" + binary + " --config " + dev.configPath() + " 2>" + dev.dir() + "/err.log";
    EXPECT_NE(std::system(cmd.c_str()), 0) << binary;
    std::ifstream err(dev.dir() + "/err.log");
    std::stringstream text;
    text << err.rdbuf();
    EXPECT_NE(text.str().find(file + ":"), std::string::npos) << text.str();
  }
}

}  // namespace
}  // namespace mpay
