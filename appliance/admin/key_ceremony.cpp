#include "admin/key_ceremony.h"

#include <p11-kit/uri.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ca/certificate.h"
#include "hsm/keygen.h"
#include "hsm/lane.h"
#include "hsm/module.h"

namespace mpay::admin {
namespace {

using hsm::Session;

constexpr long kCaValidityDays = 3650;
constexpr long kReceiptValidityDays = 1825;

Result<Bytes> publicPoint(const Session& s, const hsm::KeyTemplate& t) {
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub, s.findOne(CKO_PUBLIC_KEY, t.label));
  MPAY_ASSIGN_OR_RETURN(Bytes attr, s.attributeBytes(pub, CKA_EC_POINT));
  return hsm::ecPointFromAttribute(attr);
}

Result<Bytes> randomSerial(const Session& s) {
  Bytes serial(16);
  CK_RV rv = s.fn()->C_GenerateRandom(s.handle(), serial.data(), serial.size());
  if (rv != CKR_OK) return hsm::ckError(rv, "C_GenerateRandom");
  return serial;
}

Status storeCertificate(const Session& s, const std::string& label, ByteView der) {
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE type = CKC_X_509;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  MPAY_ASSIGN_OR_RETURN(Bytes subject, ca::subjectNameDer(der));
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_SUBJECT, subject.data(), subject.size()},
                         {CKA_CERTIFICATE_TYPE, &type, sizeof type},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &no, sizeof no},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                         {CKA_VALUE, const_cast<std::uint8_t*>(der.data()), der.size()}};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = s.fn()->C_CreateObject(s.handle(), tmpl, 7, &h);
  if (rv != CKR_OK) return hsm::ckError(rv, "C_CreateObject certificate " + label);
  return {};
}

// Issues and stores the certificate labelled like `subject_key` unless it exists.
Result<bool> ensureCertificate(const Session& s, const hsm::KeyTemplate& subject_key, const hsm::KeyTemplate& ca_key,
                               ca::Profile profile, const std::string& common_name, long days) {
  MPAY_ASSIGN_OR_RETURN(bool present, s.exists(CKO_CERTIFICATE, subject_key.label));
  if (present) return false;
  Bytes issuer_der;
  if (profile != ca::Profile::kRootCa) {
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_cert, s.findOne(CKO_CERTIFICATE, ca_key.label));
    MPAY_ASSIGN_OR_RETURN(issuer_der, s.attributeBytes(ca_cert, CKA_VALUE));
  }
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_private, s.findOne(CKO_PRIVATE_KEY, ca_key.label));
  ca::CertificateRequest req;
  req.profile = profile;
  req.subject = {{"O", "mpay"}, {"CN", common_name}};
  MPAY_ASSIGN_OR_RETURN(req.subject_point, publicPoint(s, subject_key));
  MPAY_ASSIGN_OR_RETURN(req.serial, randomSerial(s));
  req.valid_days = days;
  MPAY_ASSIGN_OR_RETURN(Bytes der, ca::issueCertificate(req, issuer_der, [&](ByteView digest) {
                          return hsm::ecdsaSignDigest(s, ca_private, digest);
                        }));
  MPAY_RETURN_IF_ERROR(storeCertificate(s, subject_key.label, der));
  return true;
}

Result<Bytes> certificateDer(const Session& s, const std::string& label) {
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE cert, s.findOne(CKO_CERTIFICATE, label));
  return s.attributeBytes(cert, CKA_VALUE);
}

}  // namespace

Status ensureCaGeneration(const Session& s, const hsm::KeyPolicy& base, std::uint32_t to) {
  if (to < 2) return fail(ErrorCode::kInternal, "CA generation 1 is the ceremony's");
  const hsm::KeyTemplate older = base.generation("ca", to - 1), newer = base.generation("ca", to);
  MPAY_ASSIGN_OR_RETURN(Bytes first, certificateDer(s, base.generation("ca", 1).label));
  MPAY_ASSIGN_OR_RETURN(Bytes name, ca::subjectNameDer(first));
  // `subject`'s key certified by `issuer` (its certificate labelled like
  // it, or none: self-signed), kept under `label` unless the token has it.
  const auto ensure = [&](const hsm::KeyTemplate& subject, const hsm::KeyTemplate& issuer, bool self_signed,
                          const std::string& label) -> Status {
    MPAY_ASSIGN_OR_RETURN(bool present, s.exists(CKO_CERTIFICATE, label));
    if (present) return {};
    Bytes issuer_der;
    if (!self_signed) {
      MPAY_ASSIGN_OR_RETURN(issuer_der, certificateDer(s, issuer.label));
    }
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE issuer_private, s.findOne(CKO_PRIVATE_KEY, issuer.label));
    ca::CertificateRequest req;
    req.profile = self_signed ? ca::Profile::kRootCa : ca::Profile::kCaLink;
    req.subject_name_der = name;
    MPAY_ASSIGN_OR_RETURN(req.subject_point, publicPoint(s, subject));
    MPAY_ASSIGN_OR_RETURN(req.serial, randomSerial(s));
    req.valid_days = kCaValidityDays;
    MPAY_ASSIGN_OR_RETURN(Bytes der, ca::issueCertificate(req, issuer_der, [&](ByteView digest) {
                            return hsm::ecdsaSignDigest(s, issuer_private, digest);
                          }));
    return storeCertificate(s, label, der);
  };
  const std::string cross = hsm::caCrossLabel(base, to);
  MPAY_RETURN_IF_ERROR(ensure(newer, newer, true, newer.label));
  MPAY_RETURN_IF_ERROR(ensure(newer, older, false, cross));
  // Checked as a phone will: the new CA follows from the old one through
  // the cross certificate. A leftover of another platform under these
  // labels fails here and is not published.
  MPAY_ASSIGN_OR_RETURN(Bytes older_der, certificateDer(s, older.label));
  MPAY_ASSIGN_OR_RETURN(Bytes newer_der, certificateDer(s, newer.label));
  MPAY_ASSIGN_OR_RETURN(Bytes cross_der, certificateDer(s, cross));
  MPAY_ASSIGN_OR_RETURN(Bytes newer_point, publicPoint(s, newer));
  MPAY_ASSIGN_OR_RETURN(auto self_key, ca::verifyIssuedBy(newer_der, newer_der));
  Status follows = ca::verifyCaSuccessor(newer_der, ca::CaTrust{{older_der}, {cross_der}});
  if (!follows.ok() || self_key.point() != newer_point)
    return fail(ErrorCode::kBadCertificate, "the certificates of CA generation " + std::to_string(to) +
                                                " on the token do not join it to generation " + std::to_string(to - 1) +
                                                ": destroy the leftover objects of those labels and begin again");
  return {};
}

Status recertifyReceiptKey(const Session& s, const hsm::KeyPolicy& base, std::uint32_t receipt_generation,
                           std::uint32_t ca_generation) {
  const std::string label = hsm::receiptRecertificationLabel(base, receipt_generation, ca_generation);
  MPAY_ASSIGN_OR_RETURN(bool present, s.exists(CKO_CERTIFICATE, label));
  const hsm::KeyTemplate ca_key = base.generation("ca", ca_generation);
  MPAY_ASSIGN_OR_RETURN(Bytes ca_der, certificateDer(s, ca_key.label));
  MPAY_ASSIGN_OR_RETURN(Bytes point, publicPoint(s, base.generation("receipt", receipt_generation)));
  if (!present) {
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_private, s.findOne(CKO_PRIVATE_KEY, ca_key.label));
    ca::CertificateRequest req;
    req.profile = ca::Profile::kReceiptSigner;
    req.subject = {{"O", "mpay"}, {"CN", "mpay receipt signer"}};
    req.subject_point = point;
    MPAY_ASSIGN_OR_RETURN(req.serial, randomSerial(s));
    req.valid_days = kReceiptValidityDays;
    MPAY_ASSIGN_OR_RETURN(Bytes der, ca::issueCertificate(req, ca_der, [&](ByteView digest) {
                            return hsm::ecdsaSignDigest(s, ca_private, digest);
                          }));
    MPAY_RETURN_IF_ERROR(storeCertificate(s, label, der));
  }
  MPAY_ASSIGN_OR_RETURN(Bytes der, certificateDer(s, label));
  auto certified = ca::verifyReceiptSigner(der, ca_der);
  if (!certified || certified->point() != point)
    return fail(ErrorCode::kBadCertificate, "the certificate labelled " + label + " is not receipt key generation " +
                                                std::to_string(receipt_generation) + "'s from CA generation " +
                                                std::to_string(ca_generation) +
                                                ": destroy the leftover object of that label and begin again");
  return {};
}

Result<bool> ensureReceiptCertificate(const hsm::Session& s, const hsm::KeyTemplate& receipt,
                                      const hsm::KeyPolicy& policy) {
  return ensureCertificate(s, receipt, policy.key("ca"), ca::Profile::kReceiptSigner, "mpay receipt signer",
                           kReceiptValidityDays);
}

namespace {

std::string objectUri(const std::string& token_uri, const hsm::KeyTemplate& t) {
  // The token part as configured, plus object label and type (RFC 7512).
  char* encoded = nullptr;
  P11KitUri* uri = p11_kit_uri_new();
  std::string out = token_uri;
  if (p11_kit_uri_parse(token_uri.c_str(), P11_KIT_URI_FOR_TOKEN, uri) == P11_KIT_URI_OK) {
    CK_ATTRIBUTE label = {CKA_LABEL, const_cast<char*>(t.label.data()), t.label.size()};
    CK_OBJECT_CLASS cls = hsm::keyClass(t);
    CK_ATTRIBUTE klass = {CKA_CLASS, &cls, sizeof cls};
    p11_kit_uri_set_attribute(uri, &label);
    p11_kit_uri_set_attribute(uri, &klass);
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_ANY, &encoded) == P11_KIT_URI_OK && encoded) {
      out = encoded;
      free(encoded);
    }
  }
  p11_kit_uri_free(uri);
  return out;
}

Status writePublicFile(const std::string& dir, const std::string& name, const std::string& text,
                       CeremonyReport& report) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return fail(ErrorCode::kIo, "cannot write " + tmp);
  }
  chmod(tmp.c_str(), 0644);
  std::filesystem::rename(tmp, path);
  report.exported.push_back(path);
  return {};
}

}  // namespace

Status exportPublicParts(const Session& s, const Config& config, const hsm::KeyPolicy& policy,
                         CeremonyReport& report) {
  MPAY_ASSIGN_OR_RETURN(Bytes service_point, publicPoint(s, policy.key("service")));
  MPAY_ASSIGN_OR_RETURN(auto service_key, suite::EcPublicKey::fromPoint(service_point));
  MPAY_RETURN_IF_ERROR(writePublicFile(config.public_dir, "service.pem", ca::publicKeyPem(service_key), report));
  // ca.pem: the current CA first, then every other generation the token
  // keeps (certificates they issued are valid until they expire).
  MPAY_ASSIGN_OR_RETURN(Bytes current_ca, certificateDer(s, policy.key("ca").label));
  std::string cas = ca::certificatePem(current_ca);
  for (std::uint32_t g = 1;; ++g) {  // generations are never destroyed: no gap
    const std::string label = policy.generation("ca", g).label;
    if (label == policy.key("ca").label) continue;
    MPAY_ASSIGN_OR_RETURN(bool kept, s.exists(CKO_CERTIFICATE, label));
    if (!kept) break;
    MPAY_ASSIGN_OR_RETURN(Bytes der, certificateDer(s, label));
    cas += ca::certificatePem(der);
  }
  MPAY_RETURN_IF_ERROR(writePublicFile(config.public_dir, "ca.pem", cas, report));
  for (const auto& [name, file] : {std::pair{"receipt", "receipt.pem"}, std::pair{"audit", "audit.pem"}}) {
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE cert, s.findOne(CKO_CERTIFICATE, policy.key(name).label));
    MPAY_ASSIGN_OR_RETURN(Bytes der, s.attributeBytes(cert, CKA_VALUE));
    MPAY_RETURN_IF_ERROR(writePublicFile(config.public_dir, file, ca::certificatePem(der), report));
  }
  return {};
}

Result<AdminToken> openAdminToken(const Config& config) {
  if (!config.hsm.softhsm2_conf.empty()) setenv("SOFTHSM2_CONF", config.hsm.softhsm2_conf.c_str(), 1);
  MPAY_ASSIGN_OR_RETURN(auto base, hsm::KeyPolicy::load(config.policy_dir + "/keys"));
  MPAY_ASSIGN_OR_RETURN(Secret pin, hsm::readPinFile(config.hsm.pin_file));
  MPAY_ASSIGN_OR_RETURN(auto module, hsm::Module::load(config.hsm.module));
  MPAY_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->findSlot(config.hsm.token_uri));
  MPAY_ASSIGN_OR_RETURN(Session s, Session::open(module->fn(), slot));
  MPAY_RETURN_IF_ERROR(s.loginUser(pin));
  MPAY_ASSIGN_OR_RETURN(hsm::RotationState rotation, hsm::readRotationState(s));
  hsm::KeyPolicy policy = hsm::currentPolicy(base, rotation);
  return AdminToken{std::move(module), std::move(s), std::move(base), std::move(policy), rotation};
}

namespace {

// Created with mode 0600 before any byte of the key is written.
Status writePrivateFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot write " + path);
  const bool ok = fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? Status{} : fail(ErrorCode::kIo, "cannot write " + path);
}

}  // namespace

Status issueGatewayTlsCertificate(const Config& config, const std::string& key_path, const std::string& cert_path,
                                  const std::string& san) {
  MPAY_ASSIGN_OR_RETURN(AdminToken token, openAdminToken(config));
  const Session& s = token.session;
  MPAY_ASSIGN_OR_RETURN(auto tls_key, suite::EcPrivateKey::generate(
                                          [&](std::size_t n) -> Result<Secret> {
                                            Secret out(n);
                                            CK_RV rv = s.fn()->C_GenerateRandom(s.handle(), out.exposeSecretMutable().data(), n);
                                            if (rv != CKR_OK) return hsm::ckError(rv, "C_GenerateRandom");
                                            return out;
                                          }));
  const auto& ca = token.policy.key("ca");
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_cert, s.findOne(CKO_CERTIFICATE, ca.label));
  MPAY_ASSIGN_OR_RETURN(Bytes issuer_der, s.attributeBytes(ca_cert, CKA_VALUE));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_private, s.findOne(CKO_PRIVATE_KEY, ca.label));
  ca::CertificateRequest req;
  req.profile = ca::Profile::kTlsServer;
  req.subject = {{"O", "mpay"}, {"CN", "mpay gateway"}};
  req.san = san;
  req.subject_point = tls_key.publicKey().point();
  MPAY_ASSIGN_OR_RETURN(req.serial, randomSerial(s));
  req.valid_days = 397;
  MPAY_ASSIGN_OR_RETURN(Bytes der, ca::issueCertificate(req, issuer_der, [&](ByteView digest) {
                          return hsm::ecdsaSignDigest(s, ca_private, digest);
                        }));
  MPAY_RETURN_IF_ERROR(writePrivateFile(key_path, ca::privateKeyPem(tls_key)));
  // After CA rotations the chain goes with it: the cross certificates back
  // to generation 1, so that a client that trusts an older CA (an older
  // ca.pem) still verifies the gateway (Poco loads the file as a chain).
  std::string chain = ca::certificatePem(der);
  for (std::uint32_t g = token.rotation.ca.current; g >= 2; --g) {
    MPAY_ASSIGN_OR_RETURN(Bytes cross, certificateDer(s, hsm::caCrossLabel(token.base_policy, g)));
    chain += ca::certificatePem(cross);
  }
  CeremonyReport unused;
  return writePublicFile(std::filesystem::path(cert_path).parent_path().string(),
                         std::filesystem::path(cert_path).filename().string(), chain, unused);
}

namespace {

// Every token object that makes the platform: each key (and an EC key's
// public half) and the two certificates, with its class and label.
std::vector<std::pair<CK_OBJECT_CLASS, std::string>> platformObjects(const hsm::KeyPolicy& policy) {
  std::vector<std::pair<CK_OBJECT_CLASS, std::string>> out;
  for (const auto& name : hsm::KeyPolicy::platformKeyNames()) {
    const auto& t = policy.key(name);
    out.emplace_back(hsm::keyClass(t), t.label);
    if (t.kind == hsm::KeyKind::kEcP256) out.emplace_back(CKO_PUBLIC_KEY, t.label);
  }
  out.emplace_back(CKO_CERTIFICATE, policy.key("ca").label);
  out.emplace_back(CKO_CERTIFICATE, policy.key("receipt").label);
  out.emplace_back(CKO_CERTIFICATE, policy.key("audit").label);
  return out;
}

// The audit key and its certificate bind no user: a platform made before
// they existed gets them from the next ceremony instead of counting as part
// of a platform.
bool addableToAPlatform(const std::string& label, const hsm::KeyPolicy& policy) {
  return label == policy.key("audit").label;
}

std::string className(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_PRIVATE_KEY: return "private key";
    case CKO_PUBLIC_KEY: return "public key";
    case CKO_SECRET_KEY: return "secret key";
    default: return "certificate";
  }
}

// A ceremony runs on a token with the whole platform (nothing to do) or
// none of it. Part of one means a key was lost: making it anew would break
// every user whose verifier, certificate or stored keys depend on it.
Status refusePartialPlatform(const Session& s, const hsm::KeyPolicy& policy) {
  std::vector<std::string> present, missing;
  for (const auto& [cls, label] : platformObjects(policy)) {
    if (addableToAPlatform(label, policy)) continue;
    auto found = s.exists(cls, label);
    if (!found)
      return fail(ErrorCode::kHsmUnavailable, "the token's " + className(cls) + " " + label +
                                                  " cannot be read (" + found.error().detail +
                                                  "): restore the token from the HSM backup");
    (found.value() ? present : missing).push_back(className(cls) + " " + label);
  }
  if (present.empty() || missing.empty()) return {};
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  return fail(ErrorCode::kHsmUnavailable,
              "the token holds part of a platform (missing: " + names +
                  "); init never replaces a platform key, since every registered phone depends on them. Restore the "
                  "token from the HSM backup; only for a platform that must start over (every phone registers "
                  "again) use mpay-admin new-platform");
}

}  // namespace

Result<CeremonyReport> runKeyCeremony(const Config& config) {
  MPAY_ASSIGN_OR_RETURN(AdminToken token, openAdminToken(config));
  const Session& s = token.session;
  const hsm::KeyPolicy& policy = token.policy;
  MPAY_RETURN_IF_ERROR(refusePartialPlatform(s, policy));

  CeremonyReport report;
  for (const auto& name : hsm::KeyPolicy::platformKeyNames()) {
    const auto& t = policy.key(name);
    MPAY_ASSIGN_OR_RETURN(bool created, hsm::ensureKey(s, t));
    report.keys.push_back({name, objectUri(config.hsm.token_uri, t), created});
  }
  MPAY_ASSIGN_OR_RETURN(report.ca_cert_created,
                        ensureCertificate(s, policy.key("ca"), policy.key("ca"), ca::Profile::kRootCa,
                                          "mpay platform CA", kCaValidityDays));
  MPAY_ASSIGN_OR_RETURN(report.receipt_cert_created, ensureReceiptCertificate(s, policy.key("receipt"), policy));
  MPAY_ASSIGN_OR_RETURN(report.audit_cert_created,
                        ensureCertificate(s, policy.key("audit"), policy.key("ca"), ca::Profile::kReceiptSigner,
                                          "mpay audit signer", kReceiptValidityDays));
  MPAY_RETURN_IF_ERROR(exportPublicParts(s, config, policy, report));
  return report;
}

Result<CeremonyReport> startNewPlatform(const Config& config) {
  {
    MPAY_ASSIGN_OR_RETURN(AdminToken token, openAdminToken(config));
    for (const auto& [cls, label] : platformObjects(token.policy)) {
      MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(cls, label));
      (void)destroyed;
    }
    // Every generation a rotation made (a retired receipt key leaves its
    // certificate), and the rotation state: a new platform starts at generation 1.
    for (const auto& kind : hsm::RotationState::kinds()) {
      const hsm::KeyGenerations& g = token.rotation.of(kind);
      // One past the newest named: a begin that stopped before its state was written.
      for (std::uint32_t each = 1; each <= std::max(g.current, g.next) + 1; ++each) {
        const auto t = token.base_policy.generation(kind, each);
        for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY, CKO_CERTIFICATE}) {
          MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(cls, t.label));
          (void)destroyed;
        }
        std::vector<std::pair<CK_OBJECT_CLASS, std::string>> also;
        if (kind == "service")
          for (std::uint32_t by = 1; by <= std::max(token.rotation.ca.current, token.rotation.ca.next) + 1; ++by)
            also.emplace_back(CKO_DATA, hsm::endorsementLabel(token.base_policy, each, by));
        if (kind == "ca") also.emplace_back(CKO_CERTIFICATE, hsm::caCrossLabel(token.base_policy, each));
        if (kind == "receipt")
          for (std::uint32_t by = 1; by <= std::max(token.rotation.ca.current, token.rotation.ca.next) + 1; ++by)
            also.emplace_back(CKO_CERTIFICATE, hsm::receiptRecertificationLabel(token.base_policy, each, by));
        for (const auto& [cls, label] : also) {
          MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(cls, label));
          (void)destroyed;
        }
      }
    }
    MPAY_ASSIGN_OR_RETURN(int states, hsm::destroyRotationState(token.session));
    (void)states;
  }
  return runKeyCeremony(config);
}

}  // namespace mpay::admin
