// Positive and negative fixtures for policy/keys.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "hsm/key_policy.h"
#include "support/dev_appliance.h"

namespace mpay::hsm {
namespace {

std::string shippedPolicy() {
  std::ifstream in(test::sourceDir() + "/policy/keys");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replaceLine(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

Error parseError(const std::string& text) {
  auto p = KeyPolicy::parse(text, "keys");
  EXPECT_FALSE(p.ok());
  return p.ok() ? Error{} : p.error();
}

TEST(KeyPolicy, ShippedPolicyParses) {
  auto p = KeyPolicy::parse(shippedPolicy(), "policy/keys");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  const auto& service = p->key("service");
  EXPECT_TRUE(service.token && service.sensitive && !service.extractable && service.derive && !service.sign);
  EXPECT_EQ(service.mechanisms, std::vector<CK_MECHANISM_TYPE>{CKM_ECDH1_DERIVE});
  EXPECT_EQ(p->key("kek").mechanisms, std::vector<CK_MECHANISM_TYPE>{CKM_AES_GCM});
  for (const auto& name : KeyPolicy::platformKeyNames()) { EXPECT_FALSE(p->key(name).extractable) << name; }
}

TEST(KeyPolicy, UnknownWordsAreErrorsWithFileAndLine) {
  auto e = parseError(shippedPolicy() + "service colour blue\n");
  EXPECT_EQ(e.code, ErrorCode::kPolicy);
  EXPECT_NE(e.detail.find("unknown attribute 'colour'"), std::string::npos);
  EXPECT_NE(e.detail.find("keys:"), std::string::npos);
  EXPECT_NE(parseError(shippedPolicy() + "backup label x\n").detail.find("unknown key"), std::string::npos);
  EXPECT_NE(parseError(replaceLine(shippedPolicy(), "kek       mechanisms   CKM_AES_GCM",
                                   "kek       mechanisms   CKM_AES_CBC"))
                .detail.find("unknown mechanism"),
            std::string::npos);
  EXPECT_NE(parseError(replaceLine(shippedPolicy(), "kek       decrypt      true", "kek       decrypt      yes"))
                .detail.find("true or false"),
            std::string::npos);
}

TEST(KeyPolicy, EmptyMechanismListIsRefused) {
  auto e = parseError(replaceLine(shippedPolicy(), "kek       mechanisms   CKM_AES_GCM", "kek       mechanisms"));
  EXPECT_NE(e.detail.find("empty mechanism list"), std::string::npos);
}

TEST(KeyPolicy, MissingAndDuplicateAttributesAreRefused) {
  EXPECT_NE(parseError(replaceLine(shippedPolicy(), "verifier  wrap         false\n", "")).detail.find("lacks"),
            std::string::npos);
  EXPECT_NE(parseError(shippedPolicy() + "ca sign true\n").detail.find("duplicate"), std::string::npos);
}

TEST(KeyPolicy, PlatformKeysCannotBeMadeExtractable) {
  auto e = parseError(replaceLine(shippedPolicy(), "service   extractable  false", "service   extractable  true"));
  EXPECT_NE(e.detail.find("never extractable"), std::string::npos);
  e = parseError(replaceLine(shippedPolicy(), "verifier  sensitive    true", "verifier  sensitive    false"));
  EXPECT_NE(e.detail.find("sensitive"), std::string::npos);
}

}  // namespace
}  // namespace mpay::hsm
