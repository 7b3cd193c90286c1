// CA rotation as a phone and the signer check it (docs/protocol.md §7.1):
// three CA generations under one name, each joined to the one before by a
// cross certificate (new key, old issuer). Certificates of a generation
// verify under any older CA through the cross certificates, across more
// than one rotation and with pathlen 0 roots, and never the other way; a
// CA is followed only forward from the one trusted last.
#include <gtest/gtest.h>

#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include "ca/certificate.h"
#include "ca/user_certificate_cache.h"
#include "client/flows.h"
#include "suite/openssl_ptr.h"
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
  // A cross certificate that ends before the user certificate does: the
  // chain ends with it.
  CertificateRequest short_cross = request(Profile::kCaLink, ca_[1].key, name_);
  short_cross.valid_days = 5;
  const Bytes cross = issueCertificate(short_cross, ca_[0].cert, signerOf(ca_[0].key)).value();
  auto user = verifyUserCertificate(userOf(1), CaTrust{{ca_[0].cert}, {cross}});
  ASSERT_TRUE(user.ok()) << user.error().detail;
  EXPECT_EQ(user->chain.not_after, certificateValidity(cross)->not_after);
  EXPECT_LT(user->chain.not_after, user->not_after);
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

// The same certificate with its ECDSA signature's s replaced by n - s: a
// valid signature, other bytes.
Bytes malleated(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  const ASN1_BIT_STRING* signature = nullptr;
  X509_get0_signature(&signature, nullptr, cert.get());
  const unsigned char* sp = ASN1_STRING_get0_data(signature);
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &sp, ASN1_STRING_length(signature)));
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  ossl::GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BIGNUM* flipped = BN_new();
  BN_sub(flipped, EC_GROUP_get0_order(group.get()), s);
  ECDSA_SIG_set0(sig.get(), BN_dup(r), flipped);
  unsigned char* encoded = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &encoded);
  ASN1_BIT_STRING_set(const_cast<ASN1_BIT_STRING*>(signature), encoded, len);
  OPENSSL_free(encoded);
  unsigned char* out = nullptr;
  const int out_len = i2d_X509(cert.get(), &out);
  Bytes result(out, out + out_len);
  OPENSSL_free(out);
  return result;
}

client::PlatformData platformAt(const Bytes& ca, std::uint64_t generation, std::vector<Bytes> cross) {
  client::PlatformData p;
  p.suite = "mpay-v1";
  p.ca_cert = ca;
  p.ca_generation = generation;
  p.ca_cross = std::move(cross);
  p.trusted_cas = {ca};
  return p;
}

TEST_F(CaRotation, APhoneFollowsEachRotationWhateverGenerationAnAnswerClaims) {
  const client::PlatformData registered = platformAt(ca_[0].cert, 1, {});
  // An answer that claims generation 2^32-1 is followed on its cross
  // certificate; the generation decides nothing, so the next CA still is.
  auto second = client::checkPlatformChange(registered, platformAt(ca_[1].cert, 0xffffffffULL, {ca_[1].cross}));
  ASSERT_TRUE(second.ok()) << second.error().detail;
  auto third = client::checkPlatformChange(second.value(), platformAt(ca_[2].cert, 3, {ca_[2].cross, ca_[1].cross}));
  ASSERT_TRUE(third.ok()) << third.error().detail;
  EXPECT_EQ(third->trusted_cas, (std::vector<Bytes>{ca_[0].cert, ca_[1].cert, ca_[2].cert}));
  // Never back to one it followed before.
  EXPECT_FALSE(client::checkPlatformChange(third.value(), platformAt(ca_[1].cert, 9, {ca_[2].cross, ca_[1].cross})).ok());
}

TEST_F(CaRotation, AnotherEncodingOfTheSameCaChangesNothingAndAForgedOneIsRefused) {
  const client::PlatformData registered = platformAt(ca_[0].cert, 1, {});
  const Bytes other_bytes = malleated(ca_[1].cert);
  ASSERT_NE(other_bytes, ca_[1].cert);
  ASSERT_TRUE(verifyIssuedBy(other_bytes, other_bytes).ok()) << "still a valid signature";
  // Followed in its other encoding first: the genuine bytes later are the same CA.
  auto followed = client::checkPlatformChange(registered, platformAt(other_bytes, 2, {ca_[1].cross}));
  ASSERT_TRUE(followed.ok()) << followed.error().detail;
  auto honest = client::checkPlatformChange(followed.value(), platformAt(ca_[1].cert, 2, {ca_[1].cross}));
  ASSERT_TRUE(honest.ok()) << honest.error().detail;
  EXPECT_EQ(honest->ca_cert, other_bytes) << "what the phone holds of its CA stays";
  EXPECT_EQ(honest->trusted_cas.size(), 2u);
  // The new CA's key and name in a certificate someone else signed (another
  // validity, say): not signed by its own key, not followed.
  const EcPrivateKey forger = newKey();
  CertificateRequest forged_req = request(Profile::kRootCa, ca_[1].key, name_);
  forged_req.valid_days = 1;
  const Bytes forged = issueCertificate(forged_req, ca_[0].cert, signerOf(ca_[0].key)).value();
  EXPECT_FALSE(verifyCaSuccessor(forged, trusting({0})).ok());
  EXPECT_FALSE(client::checkPlatformChange(registered, platformAt(forged, 2, {ca_[1].cross})).ok());
}

}  // namespace
}  // namespace mpay::ca
