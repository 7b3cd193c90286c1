// mpay-admin as an operator runs it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "support/signer_process.h"

namespace mpay {
namespace {

struct CommandResult {
  int status;
  std::string output;
};

CommandResult run(const std::string& args) {
  const std::string cmd = test::binDir() + "/mpay-admin " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

TEST(AdminCli, DevSetupThenInitPrintsEveryKeyUriAndChangesNothing) {
  test::TempDir dir;
  CommandResult setup = run("dev-setup --dir " + dir.path() + "/appliance --port 19443");
  ASSERT_EQ(setup.status, 0) << setup.output;
  const std::string config = dir.path() + "/appliance/mpay.ini";
  EXPECT_NE(setup.output.find(config), std::string::npos);
  CommandResult init = run("init --config " + config);
  ASSERT_EQ(init.status, 0) << init.output;
  for (const char* key : {"service", "ca", "receipt", "kek", "verifier", "permit"})
    EXPECT_NE(init.output.find(std::string("present  ") + key + "  pkcs11:token=mpay;object=mpay-"), std::string::npos)
        << key << "\n" << init.output;
  EXPECT_EQ(init.output.find("created"), std::string::npos) << init.output;
}

TEST(AdminCli, UsageErrorsExit64) {
  EXPECT_EQ(run("").status, 64);
  EXPECT_EQ(run("init").status, 64);
  EXPECT_EQ(run("frobnicate --config x").status, 64);
  EXPECT_EQ(run("init --no-such-option").status, 64);
  EXPECT_EQ(run("dev-setup --dir /tmp/x --port 0").status, 64);
}

TEST(AdminCli, StatusAndAuditVerifyAgainstARunningSigner) {
  test::DevAppliance appliance;
  test::SignerProcess signer(appliance);
  auto client = signer.connect();
  auto head = client.auditHead();  // same uid: gateway and admin in a dev config
  ASSERT_TRUE(head.ok());
  EXPECT_GE(head->seq, 1u);
  CommandResult status = run("status --config " + appliance.configPath());
  ASSERT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find("hsm:         healthy"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("suite:       mpay-v1"), std::string::npos) << status.output;
  signer.stop();

  CommandResult ok = run("audit verify --config " + appliance.configPath());
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("audit log ok"), std::string::npos);

  // Edit the second record: verification fails and names line 2.
  const std::string log = appliance.config().signer.audit_log;
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GE(lines.size(), 2u);
  lines[1].replace(lines[1].find("\"uid\":"), 6, "\"uid\":9");
  std::ofstream out(log, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
  out.close();
  CommandResult bad = run("audit verify --config " + appliance.configPath());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("audit.log:2:"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace mpay
