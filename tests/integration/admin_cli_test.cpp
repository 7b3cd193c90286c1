// mpay-admin as an operator runs it.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
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

TEST(AdminCli, UsageErrorsExit2) {
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("init").status, 2);
  EXPECT_EQ(run("frobnicate --config x").status, 2);
  EXPECT_EQ(run("init --no-such-option").status, 2);
  EXPECT_EQ(run("dev-setup --dir /tmp/x --port 0").status, 2);
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

namespace mpay {
namespace {

// `mpay-admin token clone` as docs/operations.md ("A cluster") has an
// operator run it: refused onto a token directory that holds the platform,
// then a second appliance made from an empty one, with the same fingerprints
// and public files; refused for a module that is not SoftHSM2.
TEST(AdminCli, TokenCloneMakesASecondAppliancesTokenOnlyIntoAnEmptyDirectory) {
  test::TempDir dir;
  ASSERT_EQ(run("dev-setup --dir " + dir.path() + "/a --port 19453").status, 0);
  ASSERT_EQ(run("dev-setup --dir " + dir.path() + "/b --port 19463").status, 0);
  const std::string a = dir.path() + "/a/mpay.ini", b = dir.path() + "/b/mpay.ini";
  const CommandResult occupied = run("token clone --from " + a + " --config " + b);
  EXPECT_EQ(occupied.status, 1) << occupied.output;
  EXPECT_NE(occupied.output.find("already holds a token labelled 'mpay'"), std::string::npos) << occupied.output;
  EXPECT_NE(run("policy check --config " + a).output, run("policy check --config " + b).output);  // two platforms

  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/b/token"))
    std::filesystem::remove_all(entry.path());
  const CommandResult cloned = run("token clone --from " + a + " --config " + b);
  ASSERT_EQ(cloned.status, 0) << cloned.output;
  EXPECT_EQ(cloned.output.find(" unknown"), std::string::npos) << cloned.output;
  const CommandResult check_a = run("policy check --config " + a), check_b = run("policy check --config " + b);
  EXPECT_EQ(check_b.status, 0) << check_b.output;
  EXPECT_EQ(check_a.output, check_b.output);  // every fingerprint, and "policy ok"
  for (const char* file : {"ca.pem", "receipt.pem", "audit.pem", "service.pem"}) {
    std::ifstream in_a(dir.path() + "/a/public/" + file), in_b(dir.path() + "/b/public/" + file);
    const std::string text_a((std::istreambuf_iterator<char>(in_a)), std::istreambuf_iterator<char>());
    const std::string text_b((std::istreambuf_iterator<char>(in_b)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(text_a.empty());
    EXPECT_EQ(text_a, text_b) << file;
  }
  // Nothing half-made is left beside the copy.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path() + "/b/token")) ++entries;
  EXPECT_EQ(entries, 1);

  std::ifstream in(b);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("softhsm2_conf = "), 16, "; softhsm2_conf = ");
  std::ofstream(dir.path() + "/vendor.ini") << text;
  const CommandResult vendor = run("token clone --from " + a + " --config " + dir.path() + "/vendor.ini");
  EXPECT_EQ(vendor.status, 1) << vendor.output;
  EXPECT_NE(vendor.output.find("vendor's backup or cloning"), std::string::npos) << vendor.output;
}

}  // namespace
}  // namespace mpay
