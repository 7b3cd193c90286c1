#include <gtest/gtest.h>

#include <openssl/x509.h>

#include "ca/certificate.h"
#include "suite/certificate_file.h"
#include "suite/ecies.h"
#include "suite/primitives.h"

namespace mpay::suite {
namespace {

Result<Secret> systemRandom(std::size_t n) { return Secret::copyOf(randomBytes(n)); }

EcPrivateKey newKey() { return EcPrivateKey::generate(systemRandom).value(); }

TEST(Ecies, RoundTripsAndBindsTheLabel) {
  EcPrivateKey recipient = newKey();
  auto sealed = eciesSeal(recipient.publicKey(), "mpay-v1/test", asBytes("hello"), newKey());
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kEciesOverhead + 5);
  auto derive = [&](const EcPublicKey& e) { return recipient.ecdh(e); };
  auto opened = eciesOpen(recipient.publicKey().point(), "mpay-v1/test", sealed.value(), derive);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->exposeSecretText(), "hello");
  EXPECT_EQ(eciesOpen(recipient.publicKey().point(), "mpay-v1/other", sealed.value(), derive).error().code,
            ErrorCode::kDecryptFailed);
  Bytes tampered = sealed.value();
  tampered.back() ^= 1;
  EXPECT_FALSE(eciesOpen(recipient.publicKey().point(), "mpay-v1/test", tampered, derive).ok());
}

TEST(Ecies, InvalidEphemeralPointNeverReachesEcdh) {
  EcPrivateKey recipient = newKey();
  auto sealed = eciesSeal(recipient.publicKey(), "l", asBytes("x"), newKey()).value();
  sealed[64] ^= 1;  // Y coordinate off the curve
  bool derived = false;
  auto r = eciesOpen(recipient.publicKey().point(), "l", sealed, [&](const EcPublicKey& e) {
    derived = true;
    return recipient.ecdh(e);
  });
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(derived);
}

TEST(EcKeys, ScalarRangeIsEnforced) {
  EXPECT_FALSE(EcPrivateKey::fromScalar(Secret(32)).ok());  // zero
  Bytes n = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
             0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
  EXPECT_FALSE(EcPrivateKey::fromScalar(Secret::copyOf(n)).ok());  // the group order
  n.back() -= 1;
  EXPECT_TRUE(EcPrivateKey::fromScalar(Secret::copyOf(n)).ok());
}

TEST(EcKeys, SignatureConversionsRoundTrip) {
  EcPrivateKey key = newKey();
  auto der = key.signDer(asBytes("msg")).value();
  auto raw = derToP1363(der).value();
  EXPECT_TRUE(key.publicKey().verifyP1363(asBytes("msg"), raw));
  EXPECT_TRUE(key.publicKey().verifyDer(asBytes("msg"), p1363ToDer(raw).value()));
  EXPECT_FALSE(key.publicKey().verifyDer(asBytes("other"), der));
}

// n/2 of P-256, big-endian: a low-S signature has s <= this.
const Bytes kHalfOrder = [] {
  Bytes out;
  const char* hex = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8";
  for (int i = 0; i < 64; i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  return out;
}();

TEST(EcKeys, LowSKeepsEverySignatureValidAndItsSInTheLowerHalf) {
  EcPrivateKey key = newKey();
  int flipped = 0;
  for (int i = 0; i < 64; ++i) {
    auto raw = derToP1363(key.signDer(asBytes("msg")).value()).value();
    auto low = lowS(raw).value();
    EXPECT_TRUE(key.publicKey().verifyP1363(asBytes("msg"), low));
    EXPECT_LE(Bytes(low.begin() + 32, low.end()), kHalfOrder);  // big-endian, equal length: byte order is number order
    EXPECT_EQ(Bytes(low.begin(), low.begin() + 32), Bytes(raw.begin(), raw.begin() + 32));
    flipped += low != raw;
  }
  EXPECT_GT(flipped, 0);  // about half of random signatures are high-S
  EXPECT_FALSE(lowS(Bytes(63, 1)).ok());
}

// The CA library with an in-memory signer, and the PKCS#12 file built on it.
TEST(CertificateFile, BuildsAndOpensWithInfo3) {
  EcPrivateKey ca_key = newKey(), user_key = newKey();
  auto signer = [](const EcPrivateKey& k) {
    return [&k](ByteView digest) { return k.signDigestP1363(digest); };
  };
  ca::CertificateRequest ca_req{ca::Profile::kRootCa, {{"CN", "test CA"}}, "", ca_key.publicKey().point(),
                                randomBytes(16), 30, {}};
  auto ca_der = ca::issueCertificate(ca_req, {}, signer(ca_key));
  ASSERT_TRUE(ca_der.ok()) << ca_der.error().detail;
  ca::CertificateRequest user_req{ca::Profile::kUser, {{"CN", "+8613800138000"}, {"serialNumber", "89860012345678901234"}},
                                  "URI:tel:+8613800138000", user_key.publicKey().point(), randomBytes(16), 30, {}};
  auto user_der = ca::issueCertificate(user_req, ca_der.value(), signer(ca_key));
  ASSERT_TRUE(user_der.ok()) << user_der.error().detail;
  auto checked = ca::verifyUserCertificate(user_der.value(), ca_der.value());
  ASSERT_TRUE(checked.ok()) << checked.error().detail;
  EXPECT_EQ(checked->phone, "+8613800138000");
  EXPECT_EQ(checked->sim, "89860012345678901234");
  // A certificate from another CA is refused.
  EcPrivateKey other = newKey();
  ca::CertificateRequest other_req = ca_req;
  other_req.subject_point = other.publicKey().point();
  auto other_ca = ca::issueCertificate(other_req, {}, signer(other)).value();
  EXPECT_EQ(ca::verifyUserCertificate(user_der.value(), other_ca).error().code, ErrorCode::kBadCertificate);

  // PKCS#8 of the user key, as the token's wrap would deliver it.
  unsigned char* p8 = nullptr;
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(user_key.pkey());
  int len = i2d_PKCS8_PRIV_KEY_INFO(info, &p8);
  Secret pkcs8 = Secret::copyOf(ByteView(p8, static_cast<std::size_t>(len)));
  OPENSSL_free(p8);
  PKCS8_PRIV_KEY_INFO_free(info);
  Secret password = Secret::copyOf(std::string_view("+8613800138000:356938035643809:89860012345678901234:pw"));
  auto p12 = buildCertificateFile(pkcs8, user_der.value(), ca_der.value(), password, 10000);
  ASSERT_TRUE(p12.ok()) << p12.error().detail;
  auto opened = openCertificateFile(p12.value(), password);
  ASSERT_TRUE(opened.ok()) << opened.error().detail;
  EXPECT_EQ(opened->private_key.publicKey().point(), user_key.publicKey().point());
  EXPECT_EQ(opened->ca_cert_der, ca_der.value());
  EXPECT_EQ(openCertificateFile(p12.value(), Secret::copyOf(std::string_view("wrong"))).error().code,
            ErrorCode::kDecryptFailed);
}

}  // namespace
}  // namespace mpay::suite
