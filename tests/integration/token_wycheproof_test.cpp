// Wycheproof vectors through the token code paths the signer uses: ECDH with
// CKM_ECDH1_DERIVE (after the same point validation) and HMAC-SHA256 with
// CKM_SHA256_HMAC. The vector's private key is imported as a session object
// of a per-test token (platform keys are generated, never imported).
#include <gtest/gtest.h>

#include "hsm/lane.h"
#include "hsm/module.h"
#include "suite/ec.h"
#include "support/dev_appliance.h"
#include "support/wycheproof.h"

namespace mpay {
namespace {

// The ECDH output's template, as the signer makes it (policy/keys).
const hsm::KeyTemplate& ecdhSecret() {
  static const hsm::KeyPolicy keys = hsm::KeyPolicy::load(test::sourceDir() + "/policy/keys").value();
  return keys.key("ecdh-secret");
}

using hsm::Session;

class TokenWycheproof : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SOFTHSM2_CONF", appliance_.config().hsm.softhsm2_conf.c_str(), 1);
    module_ = std::move(hsm::Module::load(appliance_.config().hsm.module)).value();
    auto slot = module_->findSlot(appliance_.config().hsm.token_uri).value();
    session_ = std::move(Session::open(module_->fn(), slot)).value();
    ASSERT_TRUE(session_.loginUser(hsm::readPinFile(appliance_.config().hsm.pin_file).value()).ok());
  }

  CK_OBJECT_HANDLE importEcPrivate(const Bytes& scalar) {
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_EC;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    Bytes params = hsm::p256EcParams();
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &type, sizeof type},
                        {CKA_TOKEN, &no, sizeof no},         {CKA_DERIVE, &yes, sizeof yes},
                        {CKA_EC_PARAMS, params.data(), params.size()},
                        {CKA_VALUE, const_cast<std::uint8_t*>(scalar.data()), scalar.size()}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_EQ(session_.fn()->C_CreateObject(session_.handle(), t, 6, &h), CKR_OK);
    return h;
  }

  CK_OBJECT_HANDLE importHmacKey(const Bytes& key) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &type, sizeof type},
                        {CKA_TOKEN, &no, sizeof no},   {CKA_SIGN, &yes, sizeof yes},
                        {CKA_VALUE, const_cast<std::uint8_t*>(key.data()), key.size()}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_EQ(session_.fn()->C_CreateObject(session_.handle(), t, 5, &h), CKR_OK);
    return h;
  }

  test::DevAppliance appliance_;
  std::unique_ptr<hsm::Module> module_;
  Session session_;
};

Bytes scalar32(Bytes raw) {
  while (raw.size() > 32 && raw.front() == 0) raw.erase(raw.begin());
  Bytes out(32 - std::min<std::size_t>(32, raw.size()), 0);
  out.insert(out.end(), raw.begin(), raw.end());
  return out;
}

TEST_F(TokenWycheproof, EcdhInTheTokenMatchesAndInvalidPointsNeverReachIt) {
  int derived = 0, refused = 0;
  test::forEachWycheproofCase("ecdh_secp256r1_test.json", [&](const test::WycheproofCase& c) {
    auto peer = suite::EcPublicKey::fromSpki(c.bytes("public"));
    const bool compressed = c.hasFlag("CompressedPublic") || c.hasFlag("CompressedPoint");
    if (c.result == "invalid" || compressed) {
      // The signer validates the point first (suite::eciesOpen); these stop there.
      EXPECT_FALSE(peer.ok()) << "tc " << c.id;
      ++refused;
      return;
    }
    if (c.result != "valid") return;
    ASSERT_TRUE(peer.ok()) << "tc " << c.id;
    CK_OBJECT_HANDLE key = importEcPrivate(scalar32(c.bytes("private")));
    hsm::ObjectGuard guard(session_, key);
    auto shared = hsm::ecdhDerive(session_, key, peer.value(), ecdhSecret());
    ASSERT_TRUE(shared.ok()) << "tc " << c.id << " " << shared.error().detail;
    EXPECT_EQ(hexEncode(shared->exposeSecret()), c.hex("shared")) << "tc " << c.id;
    ++derived;
  });
  EXPECT_GT(derived, 50);
  EXPECT_GT(refused, 50);
}

TEST_F(TokenWycheproof, HmacInTheTokenMatches) {
  int used = 0;
  test::forEachWycheproofCase("hmac_sha256_test.json", [&](const test::WycheproofCase& c) {
    Bytes key = c.bytes("key"), tag = c.bytes("tag");
    // SoftHSM2 takes HMAC-SHA256 keys of 32 bytes or more; mpay's are 32.
    if (key.size() < 32 || tag.size() != 32) return;
    CK_OBJECT_HANDLE h = importHmacKey(key);
    hsm::ObjectGuard guard(session_, h);
    auto mac = hsm::hmacSha256(session_, h, c.bytes("msg"));
    ASSERT_TRUE(mac.ok()) << "tc " << c.id << " " << mac.error().detail;
    EXPECT_EQ(constantTimeEqual(mac.value(), tag), c.result == "valid") << "tc " << c.id;
    ++used;
  });
  EXPECT_GT(used, 10);
}

}  // namespace
}  // namespace mpay
