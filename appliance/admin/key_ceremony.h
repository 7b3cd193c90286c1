// The key ceremony (S01): creates every platform key inside the token from
// policy/keys, the self-signed CA certificate and the receipt certificate,
// and exports the public parts. Idempotent on a token that holds the whole
// platform; on a token with only part of it, it refuses and creates nothing
// (a lost key is restored from the HSM backup, never made anew).
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "hsm/key_policy.h"
#include "hsm/module.h"
#include "hsm/rotation.h"
#include "hsm/session.h"

namespace mpay::admin {

struct CeremonyKey {
  std::string name;  // policy name (service, ca, ...)
  std::string uri;   // RFC 7512 URI of the private or secret key object
  bool created = false;
};

struct CeremonyReport {
  std::vector<CeremonyKey> keys;
  bool ca_cert_created = false;
  bool receipt_cert_created = false;
  bool audit_cert_created = false;
  std::vector<std::string> exported;  // files written in the public directory
};

Result<CeremonyReport> runKeyCeremony(const Config& config);

// The token as the admin tool uses it: one logged-in session, policy/keys
// as written (generation 1) and at the token's current generations.
struct AdminToken {
  std::unique_ptr<hsm::Module> module;
  hsm::Session session;
  hsm::KeyPolicy base_policy;
  hsm::KeyPolicy policy;  // at the current generations: what the ceremony and exports use
  hsm::RotationState rotation;
};
Result<AdminToken> openAdminToken(const Config& config);

// The receipt signer's certificate from the platform CA for this generation
// of the receipt key, unless the token has it; true if it was made.
Result<bool> ensureReceiptCertificate(const hsm::Session& s, const hsm::KeyTemplate& receipt,
                                      const hsm::KeyPolicy& policy);

// CA generation `to` (its key pair made already): its self-signed
// certificate, under the first generation's name, and the cross
// certificate that joins it to generation to-1 (hsm::caCrossLabel), unless
// the token has them; refused if what the token holds does not join them.
Status ensureCaGeneration(const hsm::Session& s, const hsm::KeyPolicy& base, std::uint32_t to);
// CA generation `ca_generation`'s certificate for receipt key generation
// `receipt_generation` (hsm::receiptRecertificationLabel), unless the token
// has it; checked either way.
Status recertifyReceiptKey(const hsm::Session& s, const hsm::KeyPolicy& base, std::uint32_t receipt_generation,
                           std::uint32_t ca_generation);

// Writes service.pem (the current generation), ca.pem (every CA
// generation's certificate, the current one first), receipt.pem and
// audit.pem into the public directory.
Status exportPublicParts(const hsm::Session& s, const Config& config, const hsm::KeyPolicy& policy,
                         CeremonyReport& report);

// Destroys every platform object on the token and runs the ceremony: a new
// platform, on which every phone must register again (every verifier,
// certificate and stored key of the old one is useless). mpay-admin asks
// for an explicit flag before it calls this.
Result<CeremonyReport> startNewPlatform(const Config& config);

// A TLS server key for the gateway (made in memory, written to key_path
// with mode 0600) and its certificate from the platform CA (cert_path),
// for the names in `san` ("DNS:localhost,IP:127.0.0.1"). Development only:
// a bank may use a certificate from its own PKI instead.
Status issueGatewayTlsCertificate(const Config& config, const std::string& key_path, const std::string& cert_path,
                                  const std::string& san);

}  // namespace mpay::admin
