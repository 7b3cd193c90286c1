#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "admin/key_ceremony.h"
#include "hsm/keygen.h"
#include "hsm/session.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

using hsm::Session;

struct TokenView {
  std::unique_ptr<hsm::Module> module;
  Session session;
};

TokenView openSession(const Config& c) {
  setenv("SOFTHSM2_CONF", c.hsm.softhsm2_conf.c_str(), 1);
  auto module = hsm::Module::load(c.hsm.module);
  EXPECT_TRUE(module.ok());
  auto slot = module.value()->findSlot(c.hsm.token_uri);
  EXPECT_TRUE(slot.ok());
  auto s = Session::open(module.value()->fn(), slot.value());
  EXPECT_TRUE(s.ok());
  auto pin = hsm::readPinFile(c.hsm.pin_file);
  EXPECT_TRUE(s->loginUser(pin.value()).ok());
  return TokenView{std::move(module).value(), std::move(s).value()};
}

// Every object on the token: class, label and (for public data) value.
std::vector<std::string> snapshot(const Session& s) {
  CK_RV rv = s.fn()->C_FindObjectsInit(s.handle(), nullptr, 0);
  EXPECT_EQ(rv, CKR_OK);
  CK_OBJECT_HANDLE found[64];
  CK_ULONG count = 0;
  s.fn()->C_FindObjects(s.handle(), found, 64, &count);
  s.fn()->C_FindObjectsFinal(s.handle());
  std::vector<std::string> out;
  for (CK_ULONG i = 0; i < count; ++i) {
    auto cls = s.attributeUlong(found[i], CKA_CLASS).value();
    Bytes label = s.attributeBytes(found[i], CKA_LABEL).value();
    std::string row = std::to_string(cls) + " " + std::string(asText(label));
    if (cls == CKO_CERTIFICATE) row += " " + hexEncode(s.attributeBytes(found[i], CKA_VALUE).value());
    if (cls == CKO_PUBLIC_KEY) row += " " + hexEncode(s.attributeBytes(found[i], CKA_EC_POINT).value());
    out.push_back(row);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(KeyCeremony, EveryKeyIsSensitiveNeverExtractableLocalWithOnlyItsMechanisms) {
  test::DevAppliance appliance;
  TokenView t = openSession(appliance.config());
  auto policy = hsm::KeyPolicy::load(appliance.config().policy_dir + "/keys").value();
  for (const auto& name : hsm::KeyPolicy::platformKeyNames()) {
    const auto& tmpl = policy.key(name);
    auto key = t.session.findOne(hsm::keyClass(tmpl), tmpl.label);
    ASSERT_TRUE(key.ok()) << name;
    const auto h = key.value();
    EXPECT_TRUE(t.session.attributeBool(h, CKA_TOKEN).value()) << name;
    EXPECT_TRUE(t.session.attributeBool(h, CKA_SENSITIVE).value()) << name;
    EXPECT_TRUE(t.session.attributeBool(h, CKA_ALWAYS_SENSITIVE).value()) << name;
    EXPECT_FALSE(t.session.attributeBool(h, CKA_EXTRACTABLE).value()) << name;
    EXPECT_TRUE(t.session.attributeBool(h, CKA_NEVER_EXTRACTABLE).value()) << name;
    EXPECT_TRUE(t.session.attributeBool(h, CKA_LOCAL).value()) << name << " must be generated in the token";
    EXPECT_EQ(t.session.attributeBool(h, CKA_SIGN).value(), tmpl.sign) << name;
    EXPECT_EQ(t.session.attributeBool(h, CKA_DERIVE).value(), tmpl.derive) << name;
    EXPECT_EQ(t.session.attributeBool(h, CKA_DECRYPT).value(), tmpl.decrypt) << name;
    EXPECT_EQ(t.session.attributeBool(h, CKA_UNWRAP).value(), tmpl.unwrap) << name;
    EXPECT_EQ(t.session.allowedMechanisms(h).value(), tmpl.mechanisms) << name;
    // The value cannot be read.
    CK_BYTE buf[64];
    CK_ATTRIBUTE value = {CKA_VALUE, buf, sizeof buf};
    EXPECT_EQ(t.session.fn()->C_GetAttributeValue(t.session.handle(), h, &value, 1), CKR_ATTRIBUTE_SENSITIVE)
        << name;
  }
}

TEST(KeyCeremony, SecondRunChangesNothing) {
  test::DevAppliance appliance;
  std::vector<std::string> before;
  {
    TokenView t = openSession(appliance.config());
    before = snapshot(t.session);
  }
  EXPECT_EQ(before.size(), 7u + 4u + 3u);  // 7 keys, 4 public halves, 3 certificates
  auto report = admin::runKeyCeremony(appliance.config());
  ASSERT_TRUE(report.ok()) << report.error().detail;
  for (const auto& key : report->keys) {
    EXPECT_FALSE(key.created) << key.name;
    EXPECT_EQ(key.uri.rfind("pkcs11:", 0), 0u) << key.uri;
  }
  EXPECT_FALSE(report->ca_cert_created);
  EXPECT_FALSE(report->receipt_cert_created);
  TokenView t = openSession(appliance.config());
  EXPECT_EQ(snapshot(t.session), before);
}

// A lost key is never made anew: init on a token missing one platform key
// refuses, says what to do, and creates nothing.
TEST(KeyCeremony, ATokenMissingOneKeyIsRefusedAndNothingIsCreated) {
  test::DevAppliance appliance;
  std::vector<std::string> before;
  {
    TokenView t = openSession(appliance.config());
    auto policy = hsm::KeyPolicy::load(appliance.config().policy_dir + "/keys").value();
    ASSERT_EQ(t.session.destroyAll(CKO_SECRET_KEY, policy.key("verifier").label).value(), 1);
    before = snapshot(t.session);
  }
  auto report = admin::runKeyCeremony(appliance.config());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().detail.find("missing: secret key"), std::string::npos) << report.error().detail;
  EXPECT_NE(report.error().detail.find("HSM backup"), std::string::npos) << report.error().detail;
  TokenView t = openSession(appliance.config());
  EXPECT_EQ(snapshot(t.session), before);
}

// The explicit way to start over makes a whole new platform.
TEST(KeyCeremony, ANewPlatformReplacesEveryKey) {
  test::DevAppliance appliance;
  std::vector<std::string> before;
  {
    TokenView t = openSession(appliance.config());
    before = snapshot(t.session);
  }
  auto report = admin::startNewPlatform(appliance.config());
  ASSERT_TRUE(report.ok()) << report.error().detail;
  for (const auto& key : report->keys) EXPECT_TRUE(key.created) << key.name;
  TokenView t = openSession(appliance.config());
  auto after = snapshot(t.session);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_NE(after, before);  // new public points and certificates
}

TEST(KeyCeremony, ExportsPublicPartsThatOpensslAccepts) {
  test::DevAppliance appliance;
  const std::string pub = appliance.config().public_dir;
  const std::string cmd = "openssl verify -CAfile " + pub + "/ca.pem " + pub + "/receipt.pem >/dev/null 2>&1 && "
                          "openssl pkey -pubin -in " + pub + "/service.pem -noout >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace mpay
