// X.509 issuance with the signing key outside OpenSSL (in the token).
// OpenSSL builds and encodes the certificate; the TBS bytes are hashed and
// handed to `sign` (CKM_ECDSA in the token, returning r || s); the signed
// certificate is checked against the issuer key before it is returned.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "suite/ec.h"

namespace mpay::ca {

// Signs a SHA-256 digest, returning the P1363 (r || s) signature.
using DigestSigner = std::function<Result<Bytes>(ByteView digest)>;

enum class Profile {
  kRootCa,         // self-signed platform CA: CA:TRUE pathlen 0, keyCertSign + cRLSign
  kReceiptSigner,  // receipt key: digitalSignature + nonRepudiation
  kUser,           // phone key: digitalSignature + keyAgreement; info2 in subject and SAN
  kTlsServer,      // gateway TLS key: digitalSignature, serverAuth; names in SAN
  kCaLink,         // one CA generation's key certified by the next or the previous: as kRootCa, with the issuer's key id
};

struct CertificateRequest {
  Profile profile = Profile::kUser;
  std::vector<std::pair<std::string, std::string>> subject;  // (short name, value), e.g. {"CN", "..."}
  std::string san;      // optional subjectAltName, OpenSSL syntax: "URI:tel:+86...", "DNS:localhost,IP:127.0.0.1"
  Bytes subject_point;  // the certified public key, uncompressed P-256
  Bytes serial;         // 16 random bytes
  long valid_days = 365;
  Bytes subject_name_der;  // instead of `subject`: this exact name (every CA generation has the first one's)
};

// `issuer_der` empty means self-signed (then the issuer key is the subject key).
Result<Bytes> issueCertificate(const CertificateRequest& request, ByteView issuer_der, const DigestSigner& sign);

// What a certificate is checked against: the CA certificates trusted as
// they are (self-signed), and the cross certificates CA rotations publish
// (hsm::caCrossLabel: CA g's key certified by CA g-1), which join a
// certificate a newer CA issued to a trusted older CA. They only lead from
// older to newer: nothing certifies an older CA's key.
struct CaTrust {
  std::vector<Bytes> anchors;
  std::vector<Bytes> cross;
};

// The same, parsed once, to check many certificates against (the signer's
// trust in its CA generations). Shared read-only between threads.
class TrustedCas {
 public:
  static Result<TrustedCas> parse(const CaTrust& trust);
  struct Parsed;  // OpenSSL's objects, in certificate.cpp
  const Parsed& parsed() const { return *parsed_; }

 private:
  std::shared_ptr<const Parsed> parsed_;
};

// Checks that `cert_der` was issued by `ca_der` and is valid now; returns its key.
Result<suite::EcPublicKey> verifyIssuedBy(ByteView cert_der, ByteView ca_der);
// A receipt-signing certificate: issued by the CA, not a CA, keyUsage
// digitalSignature and nonRepudiation without keyAgreement — which no user
// certificate of the same CA has (docs/protocol.md §6).
Result<suite::EcPublicKey> verifyReceiptSigner(ByteView cert_der, ByteView ca_der);
Result<suite::EcPublicKey> verifyReceiptSigner(ByteView cert_der, const CaTrust& trust);
// A new CA generation a phone may follow: a self-signed CA certificate,
// valid now, whose key and name a cross certificate certifies that chains
// to a trusted CA (docs/protocol.md §7.1).
Status verifyCaSuccessor(ByteView new_ca_der, const CaTrust& trust);

// A certificate's validity period, in seconds since the epoch: valid for
// not_before <= t < not_after, as OpenSSL's chain check counts it.
struct Validity {
  std::int64_t not_before = 0, not_after = 0;
};

// Parses and checks a user certificate against the CA: signature, validity
// now, profile. Returns the user's public key and the info2 fields.
struct UserCertificate {
  suite::EcPublicKey public_key;
  std::string phone;
  std::string sim;
  std::int64_t not_before = 0, not_after = 0;  // seconds since the epoch
  Validity chain;  // when every certificate of its chain (up to the trusted CA) is valid
};
Result<UserCertificate> verifyUserCertificate(ByteView user_der, ByteView ca_der);
Result<UserCertificate> verifyUserCertificate(ByteView user_der, const CaTrust& trust);
Result<UserCertificate> verifyUserCertificate(ByteView user_der, const TrustedCas& trust);

Result<Validity> certificateValidity(ByteView cert_der);

// The public key of a certificate (must be P-256).
Result<suite::EcPublicKey> certificatePublicKey(ByteView cert_der);

// The DER of the certificate's subject name (CKA_SUBJECT of a certificate object).
Result<Bytes> subjectNameDer(ByteView cert_der);

// DER to PEM ("CERTIFICATE" or "PUBLIC KEY").
std::string certificatePem(ByteView der);
std::string publicKeyPem(const suite::EcPublicKey& key);
std::string privateKeyPem(const suite::EcPrivateKey& key);  // PKCS#8, unencrypted: for files of mode 0600

}  // namespace mpay::ca
