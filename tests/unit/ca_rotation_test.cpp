// CA rotation as a phone and the signer check it (docs/protocol.md §7.1):
// three CA generations under one name, each joined to the one before by a
// cross certificate (new key, old issuer). Certificates of a generation
// verify under any older CA through the cross certificates, across more
// than one rotation and with pathlen 0 roots, and never the other way; a
// CA is followed only forward from the one trusted last.
#include <gtest/gtest.h>

#include "ca/certificate.h"
#include "ca/user_certificate_cache.h"
#include "suite/primitives.h"

namespace mpay::ca {
namespace {

using suite::EcPrivateKey;

EcPrivateKey newKey() {
  return EcPrivateKey::generate([](std::size_t n) -> Result<Secret> { return Secret::copyOf(suite::randomBytes(n)); })
      .value();
}

DigestSigner signerOf(const EcPrivateKey& key) {
  return [&key](ByteView digest) { return key.signDigestP1363(digest); };
}

struct Generation {
  EcPrivateKey key = newKey();
  Bytes cert, cross;  // cross joins it to the generation before
};

CertificateRequest request(Profile profile, const EcPrivateKey& subject, ByteView name) {
  CertificateRequest req;
  req.profile = profile;
  req.subject_name_der.assign(name.begin(), name.end());
  req.subject_point = subject.publicKey().point();
  req.serial = suite::randomBytes(16);
  req.valid_days = 30;
  return req;
}

class CaRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    CertificateRequest first;
    first.profile = Profile::kRootCa;
    first.subject = {{"O", "mpay"}, {"CN", "mpay platform CA"}};
    first.subject_point = ca_[0].key.publicKey().point();
    first.serial = suite::randomBytes(16);
    first.valid_days = 30;
    ca_[0].cert = issueCertificate(first, {}, signerOf(ca_[0].key)).value();
    name_ = subjectNameDer(ca_[0].cert).value();
    for (int g = 1; g < 3; ++g) {
      Generation& now = ca_[g];
      const Generation& before = ca_[g - 1];
      now.cert = issueCertificate(request(Profile::kRootCa, now.key, name_), {}, signerOf(now.key)).value();
      now.cross = issueCertificate(request(Profile::kCaLink, now.key, name_), before.cert, signerOf(before.key)).value();
    }
  }

  Bytes userOf(int g) {
    const EcPrivateKey user = newKey();
    CertificateRequest req;
    req.profile = Profile::kUser;
    req.subject = {{"O", "mpay"}, {"CN", "+8613800138000"}, {"serialNumber", "89860012345678901234"}};
    req.san = "URI:tel:+8613800138000";
    req.subject_point = user.publicKey().point();
    req.serial = suite::randomBytes(16);
    req.valid_days = 10;
    return issueCertificate(req, ca_[g].cert, signerOf(ca_[g].key)).value();
  }

  Bytes receiptSignerOf(int g) {
    const EcPrivateKey receipt = newKey();
    CertificateRequest req;
    req.profile = Profile::kReceiptSigner;
    req.subject = {{"O", "mpay"}, {"CN", "mpay receipt signer"}};
    req.subject_point = receipt.publicKey().point();
    req.serial = suite::randomBytes(16);
    req.valid_days = 10;
    return issueCertificate(req, ca_[g].cert, signerOf(ca_[g].key)).value();
  }

  // Newest first, as GET /v1/platform lists them.
  CaTrust trusting(std::vector<int> anchors) {
    CaTrust t;
    for (int g : anchors) t.anchors.push_back(ca_[g].cert);
    t.cross = {ca_[2].cross, ca_[1].cross};
    return t;
  }

  Generation ca_[3];
  Bytes name_;
};

TEST_F(CaRotation, CertificatesOfANewerCaVerifyUnderAnOlderOneThroughTheCrossCertificates) {
  for (int issued = 0; issued < 3; ++issued)
    for (int trusted = 0; trusted < 3; ++trusted) {
      auto user = verifyUserCertificate(userOf(issued), trusting({trusted}));
      auto receipt = verifyReceiptSigner(receiptSignerOf(issued), trusting({trusted}));
      if (trusted <= issued) {
        EXPECT_TRUE(user.ok()) << "user of CA " << issued + 1 << " under CA " << trusted + 1 << ": "
                               << user.error().detail;
        EXPECT_TRUE(receipt.ok()) << "receipt signer of CA " << issued + 1 << " under CA " << trusted + 1 << ": "
                                  << receipt.error().detail;
      } else {
        EXPECT_FALSE(user.ok()) << "nothing leads from CA " << trusted + 1 << " back to CA " << issued + 1;
        EXPECT_FALSE(receipt.ok());
      }
    }
  // Keeping the older CA it trusted, a phone verifies what that CA issued.
  EXPECT_TRUE(verifyReceiptSigner(receiptSignerOf(0), trusting({0, 2})).ok());
}

TEST_F(CaRotation, WithoutTheLinksOnlyTheIssuingCaVerifies) {
  const Bytes user = userOf(2);
  EXPECT_EQ(verifyUserCertificate(user, CaTrust{{ca_[0].cert}, {}}).error().code, ErrorCode::kBadCertificate);
  EXPECT_TRUE(verifyUserCertificate(user, CaTrust{{ca_[0].cert, ca_[2].cert}, {}}).ok())
      << "the signer holds every generation as an anchor of its own";
  // Only the cross certificate of generation 3: no path from it to CA 1.
  EXPECT_FALSE(verifyUserCertificate(user, CaTrust{{ca_[0].cert}, {ca_[2].cross}}).ok());
}

TEST_F(CaRotation, TheChainsValidityIsKeptWithTheCertificate) {
  auto user = verifyUserCertificate(userOf(1), trusting({0}));
  ASSERT_TRUE(user.ok()) << user.error().detail;
  EXPECT_LE(user->chain.not_after, user->not_after);
  EXPECT_GE(user->chain.not_before, user->not_before);
  UserCertificateCache cache(trusting({0}), 4);
  EXPECT_TRUE(cache.verify(userOf(2)).ok());
  EXPECT_FALSE(UserCertificateCache(CaTrust{{ca_[0].cert}, {}}, 4).verify(userOf(2)).ok());
}

TEST_F(CaRotation, APhoneFollowsANewCaOnlyThroughACrossCertificateFromOneItTrusts) {
  EXPECT_TRUE(verifyCaSuccessor(ca_[1].cert, trusting({0})).ok());
  EXPECT_TRUE(verifyCaSuccessor(ca_[2].cert, trusting({0})).ok()) << "two rotations at once";
  EXPECT_TRUE(verifyCaSuccessor(ca_[2].cert, trusting({1})).ok());
  EXPECT_FALSE(verifyCaSuccessor(ca_[1].cert, CaTrust{{ca_[0].cert}, {}}).ok()) << "no cross certificate";
  // Never back: nothing certifies an older CA's key under a newer one.
  EXPECT_FALSE(verifyCaSuccessor(ca_[0].cert, trusting({2})).ok());
  EXPECT_FALSE(verifyCaSuccessor(ca_[1].cert, trusting({2})).ok());
  // A link made the other way (the older key certified by the newer CA),
  // offered as a cross certificate, is refused: a phone that starts from
  // CA 3 cannot be led back.
  const Bytes backwards =
      issueCertificate(request(Profile::kCaLink, ca_[1].key, name_), ca_[2].cert, signerOf(ca_[2].key)).value();
  EXPECT_TRUE(verifyCaSuccessor(ca_[1].cert, CaTrust{{ca_[2].cert}, {backwards}}).ok())
      << "the check itself has no sense of direction: the phone refuses a CA it trusted before, "
         "and no such certificate is ever made (docs/protocol.md §7.1)";
  // A retired CA's key that leaked certifies a CA of its own: the phone
  // starts from the CA it trusts now, so that is not followed.
  const EcPrivateKey stolen_into = newKey();
  const Bytes attacker_ca =
      issueCertificate(request(Profile::kRootCa, stolen_into, name_), {}, signerOf(stolen_into)).value();
  const Bytes forged_cross =
      issueCertificate(request(Profile::kCaLink, stolen_into, name_), ca_[0].cert, signerOf(ca_[0].key)).value();
  EXPECT_TRUE(verifyCaSuccessor(attacker_ca, CaTrust{{ca_[0].cert}, {forged_cross}}).ok())
      << "from CA 1 it would be followed";
  EXPECT_FALSE(verifyCaSuccessor(attacker_ca, CaTrust{{ca_[2].cert}, {forged_cross, ca_[2].cross, ca_[1].cross}}).ok())
      << "from CA 3, the phone's current one, it is not";

  // A CA of someone else's, under the same name, with a "cross
  // certificate" it signed itself: not followed.
  const EcPrivateKey rogue = newKey();
  const Bytes rogue_ca = issueCertificate(request(Profile::kRootCa, rogue, name_), {}, signerOf(rogue)).value();
  const Bytes rogue_cross =
      issueCertificate(request(Profile::kCaLink, rogue, name_), rogue_ca, signerOf(rogue)).value();
  CaTrust with_rogue = trusting({0});
  with_rogue.cross.push_back(rogue_cross);
  EXPECT_EQ(verifyCaSuccessor(rogue_ca, with_rogue).error().code, ErrorCode::kBadCertificate);
  // Nor one whose cross certificate names another key.
  EXPECT_FALSE(verifyCaSuccessor(rogue_ca, CaTrust{{ca_[0].cert}, {ca_[1].cross}}).ok());
  // A user certificate is not a CA to follow.
  EXPECT_FALSE(verifyCaSuccessor(userOf(1), trusting({0})).ok());
}

}  // namespace
}  // namespace mpay::ca
