// mpay-admin policy explain / check.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "admin/policy_report.h"
#include "hsm/keygen.h"
#include "hsm/module.h"
#include "hsm/session.h"
#include "support/dev_appliance.h"

namespace mpay::admin {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PolicyReport, ExplainMatchesTheReviewedGoldenFile) {
  test::DevAppliance appliance;
  auto report = explainPolicy(appliance.config());
  ASSERT_TRUE(report.ok()) << report.error().detail;
  EXPECT_EQ(report.value(), read(test::sourceDir() + "/tests/golden/policy-explain.md"))
      << "policy/ changed: review the change, then regenerate with "
         "mpay-admin policy explain --config CONFIG > tests/golden/policy-explain.md";
}

TEST(PolicyReport, CheckAgreesWithAFreshTokenAndFindsADifference) {
  test::DevAppliance appliance;
  auto ok = checkPolicy(appliance.config());
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_TRUE(ok->empty());
  // The policy now claims the KEK cannot decrypt: the token disagrees.
  const std::string keys = appliance.config().policy_dir + "/keys";
  std::string text = read(keys);
  const std::string from = "kek       decrypt      true";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "kek       decrypt      false");
  std::ofstream(keys, std::ios::trunc) << text;
  auto differs = checkPolicy(appliance.config());
  ASSERT_TRUE(differs.ok()) << differs.error().detail;
  ASSERT_EQ(differs->size(), 1u);
  EXPECT_NE(differs->front().find("kek: decrypt"), std::string::npos) << differs->front();
}

// A platform key replaced in the token by one made with other storage
// attributes than policy/keys names: the check reads them back and says so.
TEST(PolicyReport, CheckFindsAKeyWhoseModifiableOrCopyableDiffersFromTheFile) {
  test::DevAppliance appliance;
  const auto& c = appliance.config();
  auto keys = hsm::KeyPolicy::load(c.policy_dir + "/keys").value();
  {
    setenv("SOFTHSM2_CONF", c.hsm.softhsm2_conf.c_str(), 1);
    auto module = hsm::Module::load(c.hsm.module).value();
    auto session = hsm::Session::open(module->fn(), module->findSlot(c.hsm.token_uri).value()).value();
    ASSERT_TRUE(session.loginUser(hsm::readPinFile(c.hsm.pin_file).value()).ok());
    hsm::KeyTemplate permit = keys.key("permit");
    ASSERT_EQ(session.destroyAll(CKO_SECRET_KEY, permit.label).value(), 1);
    permit.copyable = false;  // the file says true
    ASSERT_TRUE(hsm::generateSecretKey(session, permit).ok());
    hsm::KeyTemplate kek = keys.key("kek");
    ASSERT_EQ(session.destroyAll(CKO_SECRET_KEY, kek.label).value(), 1);
    kek.modifiable = false;  // the file says true
    ASSERT_TRUE(hsm::generateSecretKey(session, kek).ok());
  }
  auto differs = checkPolicy(c);
  ASSERT_TRUE(differs.ok()) << differs.error().detail;
  ASSERT_EQ(differs->size(), 2u) << (differs->empty() ? "" : differs->front());
  std::string all = differs->at(0) + "\n" + differs->at(1);
  EXPECT_NE(all.find("permit: copyable is no in the token, yes in policy/keys"), std::string::npos) << all;
  EXPECT_NE(all.find("kek: modifiable is no in the token, yes in policy/keys"), std::string::npos) << all;
}

TEST(PolicyReport, CheckRefusesABrokenFile) {
  test::DevAppliance appliance;
  std::ofstream(appliance.config().policy_dir + "/gateway.syscalls", std::ios::app) << "allow nonsense_call\n";
  auto r = checkPolicy(appliance.config());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("gateway.syscalls:"), std::string::npos) << r.error().detail;
}

}  // namespace
}  // namespace mpay::admin
