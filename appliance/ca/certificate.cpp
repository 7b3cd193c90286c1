#include "ca/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <ctime>
#include <memory>

#include "suite/messages.h"
#include "suite/openssl_ptr.h"
#include "suite/primitives.h"

namespace mpay::ca {
namespace {

using ossl::BioPtr;
using ossl::BitStringPtr;
using ossl::BnPtr;
using ossl::StoreCtxPtr;
using ossl::StorePtr;
using ossl::X509Ptr;
using PkeyPtr = ossl::PkeyPtr;

std::int64_t secondsOf(const ASN1_TIME* t) {
  std::tm tm{};
  return ASN1_TIME_to_tm(t, &tm) == 1 ? static_cast<std::int64_t>(timegm(&tm)) : 0;
}

Error x509Error(const std::string& what) { return fail(ErrorCode::kInternal, "x509: " + what); }

Result<X509Ptr> parseDer(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) return fail(ErrorCode::kBadCertificate, "not a DER certificate");
  return cert;
}

Status addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (!ext) return x509Error("extension " + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status{} : x509Error("add extension");
}

Status addProfileExtensions(X509* cert, X509* issuer, const CertificateRequest& req) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  switch (req.profile) {
    case Profile::kRootCa:
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
      break;
    case Profile::kCaLink:
      // Self-issued (same name both sides), so it does not count against
      // pathlen 0 (RFC 5280 §4.2.1.9); the key ids pick the right issuer
      // among CA certificates that share that name.
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
      break;
    case Profile::kReceiptSigner:
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
      break;
    case Profile::kUser:
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
      if (!req.san.empty()) MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_subject_alt_name, req.san));
      break;
    case Profile::kTlsServer:
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_ext_key_usage, "serverAuth"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
      MPAY_RETURN_IF_ERROR(addExtension(cert, &ctx, NID_subject_alt_name, req.san));
      break;
  }
  return {};
}

// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
Result<Bytes> assemble(ByteView tbs, const X509_ALGOR* alg, ByteView der_signature) {
  unsigned char* alg_der = nullptr;
  int alg_len = i2d_X509_ALGOR(alg, &alg_der);
  ossl::BytesPtr alg_owner(alg_der);
  BitStringPtr bits(ASN1_BIT_STRING_new());
  if (alg_len <= 0 || !bits ||
      ASN1_BIT_STRING_set(bits.get(), const_cast<std::uint8_t*>(der_signature.data()),
                          static_cast<int>(der_signature.size())) != 1)
    return x509Error("encode signature");
  // A signature has no unused bits; say so explicitly, as X509_sign does.
  bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  unsigned char* bits_der = nullptr;
  int bits_len = i2d_ASN1_BIT_STRING(bits.get(), &bits_der);
  ossl::BytesPtr bits_owner(bits_der);
  if (bits_len <= 0) return x509Error("encode signature bits");
  const int body = static_cast<int>(tbs.size()) + alg_len + bits_len;
  Bytes out(static_cast<std::size_t>(ASN1_object_size(1, body, V_ASN1_SEQUENCE)));
  unsigned char* p = out.data();
  ASN1_put_object(&p, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
  p = std::copy(tbs.begin(), tbs.end(), p);
  p = std::copy(alg_der, alg_der + alg_len, p);
  std::copy(bits_der, bits_der + bits_len, p);
  return out;
}

Status setSubject(X509* cert, const CertificateRequest& req) {
  if (!req.subject_name_der.empty()) {
    const unsigned char* p = req.subject_name_der.data();
    ossl::NamePtr exact(d2i_X509_NAME(nullptr, &p, static_cast<long>(req.subject_name_der.size())));
    if (!exact || p != req.subject_name_der.data() + req.subject_name_der.size() ||
        X509_set_subject_name(cert, exact.get()) != 1)
      return x509Error("subject name");
    return {};
  }
  X509_NAME* name = X509_get_subject_name(cert);
  for (const auto& [field, value] : req.subject) {
    if (X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1)
      return x509Error("subject field " + field);
  }
  return {};
}

Status setSerialAndValidity(X509* cert, const CertificateRequest& req) {
  if (req.serial.size() != 16) return x509Error("serial must be 16 bytes");
  Bytes serial = req.serial;
  serial[0] &= 0x7f;  // positive INTEGER
  serial[0] |= 0x40;  // and exactly 16 bytes long
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) return x509Error("serial");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(req.valid_days), 0, nullptr))
    return x509Error("validity");
  return {};
}

}  // namespace

Result<Bytes> issueCertificate(const CertificateRequest& req, ByteView issuer_der, const DigestSigner& sign) {
  MPAY_ASSIGN_OR_RETURN(suite::EcPublicKey subject_key, suite::EcPublicKey::fromPoint(req.subject_point));
  X509Ptr issuer;
  if (!issuer_der.empty()) {
    MPAY_ASSIGN_OR_RETURN(issuer, parseDer(issuer_der));
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return x509Error("new");
  MPAY_RETURN_IF_ERROR(setSerialAndValidity(cert.get(), req));
  MPAY_RETURN_IF_ERROR(setSubject(cert.get(), req));
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer.get()) : X509_get_subject_name(cert.get());
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1 || X509_set_pubkey(cert.get(), subject_key.pkey()) != 1)
    return x509Error("issuer or key");
  MPAY_RETURN_IF_ERROR(addProfileExtensions(cert.get(), issuer.get(), req));

  // X509_sign with a throwaway key is the public way to fill in both
  // signature algorithm fields and encode the TBS; its signature is replaced.
  PkeyPtr throwaway(EVP_EC_gen("P-256"));
  if (!throwaway || X509_sign(cert.get(), throwaway.get(), EVP_sha256()) <= 0) return x509Error("encode TBS");
  unsigned char* tbs_der = nullptr;
  int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs_der);
  ossl::BytesPtr tbs_owner(tbs_der);
  if (tbs_len <= 0) return x509Error("TBS");
  ByteView tbs(tbs_der, static_cast<std::size_t>(tbs_len));
  MPAY_ASSIGN_OR_RETURN(Bytes token_sig, sign(suite::sha256(tbs)));
  MPAY_ASSIGN_OR_RETURN(Bytes raw_sig, suite::lowS(token_sig));
  MPAY_ASSIGN_OR_RETURN(Bytes der_sig, suite::p1363ToDer(raw_sig));
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, cert.get());
  MPAY_ASSIGN_OR_RETURN(Bytes der, assemble(tbs, alg, der_sig));

  // Fail closed: the result must parse and verify under the issuer's key.
  MPAY_ASSIGN_OR_RETURN(X509Ptr signed_cert, parseDer(der));
  EVP_PKEY* issuer_key = issuer ? X509_get0_pubkey(issuer.get()) : subject_key.pkey();
  if (X509_verify(signed_cert.get(), issuer_key) != 1) return x509Error("token signature does not verify");
  return der;
}

namespace {

Result<std::vector<X509Ptr>> parseAll(const std::vector<Bytes>& ders) {
  std::vector<X509Ptr> out;
  for (const Bytes& der : ders) {
    MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(der));
    out.push_back(std::move(cert));
  }
  return out;
}

// One chain build: `cert` up to one of `anchors`, through `untrusted`. The
// period in which every certificate of the chain is valid goes to `within`.
Status buildChain(X509* cert, const std::vector<X509Ptr>& anchors, const std::vector<X509Ptr>& untrusted,
                  Validity* within = nullptr) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  ossl::X509StackPtr between(sk_X509_new_null());
  if (!store || !ctx || !between) return x509Error("store");
  for (const auto& anchor : anchors)
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) return x509Error("store");
  for (const auto& link : untrusted)
    if (sk_X509_push(between.get(), link.get()) <= 0) return x509Error("store");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert, between.get()) != 1) return x509Error("store");
  if (X509_verify_cert(ctx.get()) != 1)
    return fail(ErrorCode::kBadCertificate,
                std::string("certificate: ") + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  if (within) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    *within = Validity{INT64_MIN, INT64_MAX};
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* each = sk_X509_value(chain, i);
      within->not_before = std::max(within->not_before, secondsOf(X509_get0_notBefore(each)));
      within->not_after = std::min(within->not_after, secondsOf(X509_get0_notAfter(each)));
    }
  }
  return {};
}

}  // namespace

struct TrustedCas::Parsed {
  std::vector<X509Ptr> anchors, cross;
};

Result<TrustedCas> TrustedCas::parse(const CaTrust& trust) {
  auto parsed = std::make_shared<Parsed>();
  MPAY_ASSIGN_OR_RETURN(parsed->anchors, parseAll(trust.anchors));
  MPAY_ASSIGN_OR_RETURN(parsed->cross, parseAll(trust.cross));
  if (parsed->anchors.empty()) return fail(ErrorCode::kBadCertificate, "certificate: no trusted CA");
  // OpenSSL caches each certificate's extensions at first use; done here,
  // before other threads share them.
  for (const auto* list : {&parsed->anchors, &parsed->cross})
    for (const auto& cert : *list) X509_check_purpose(cert.get(), -1, 0);
  TrustedCas out;
  out.parsed_ = std::move(parsed);
  return out;
}

namespace {

Status verifyChain(X509* cert, const CaTrust& trust, Validity* within = nullptr) {
  MPAY_ASSIGN_OR_RETURN(TrustedCas::Parsed parsed, [&]() -> Result<TrustedCas::Parsed> {
    TrustedCas::Parsed p;
    MPAY_ASSIGN_OR_RETURN(p.anchors, parseAll(trust.anchors));
    MPAY_ASSIGN_OR_RETURN(p.cross, parseAll(trust.cross));
    return p;
  }());
  if (parsed.anchors.empty()) return fail(ErrorCode::kBadCertificate, "certificate: no trusted CA");
  return buildChain(cert, parsed.anchors, parsed.cross, within);
}

Status verifyChain(X509* cert, X509* ca) {
  std::vector<X509Ptr> anchors;
  X509_up_ref(ca);
  anchors.emplace_back(ca);
  return buildChain(cert, anchors, {});
}

}  // namespace

Result<suite::EcPublicKey> verifyIssuedBy(ByteView cert_der, ByteView ca_der) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  MPAY_ASSIGN_OR_RETURN(X509Ptr ca, parseDer(ca_der));
  MPAY_RETURN_IF_ERROR(verifyChain(cert.get(), ca.get()));
  auto key = suite::EcPublicKey::fromPkey(X509_get0_pubkey(cert.get()));
  if (!key) return fail(ErrorCode::kBadCertificate, "certificate key is not P-256");
  return key;
}

namespace {

Result<suite::EcPublicKey> receiptSignerKey(X509* cert) {
  const std::uint32_t usage = X509_get_key_usage(cert);  // all bits when the extension is absent
  if (X509_check_ca(cert) != 0 || !(usage & KU_DIGITAL_SIGNATURE) || !(usage & KU_NON_REPUDIATION) ||
      (usage & KU_KEY_AGREEMENT))
    return fail(ErrorCode::kBadCertificate, "not a receipt-signing certificate");
  auto key = suite::EcPublicKey::fromPkey(X509_get0_pubkey(cert));
  if (!key) return fail(ErrorCode::kBadCertificate, "certificate key is not P-256");
  return key;
}

}  // namespace

Result<suite::EcPublicKey> verifyReceiptSigner(ByteView cert_der, ByteView ca_der) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  MPAY_ASSIGN_OR_RETURN(X509Ptr ca, parseDer(ca_der));
  MPAY_RETURN_IF_ERROR(verifyChain(cert.get(), ca.get()));
  return receiptSignerKey(cert.get());
}

Result<suite::EcPublicKey> verifyReceiptSigner(ByteView cert_der, const CaTrust& trust) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  MPAY_RETURN_IF_ERROR(verifyChain(cert.get(), trust));
  return receiptSignerKey(cert.get());
}

Status verifyCaSuccessor(ByteView new_ca_der, const CaTrust& trust) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr next, parseDer(new_ca_der));
  // Self-signed, a CA, valid now. OpenSSL does not check a trust anchor's
  // own signature: checked here, so that no field of it is anyone else's.
  if (X509_verify(next.get(), X509_get0_pubkey(next.get())) != 1)
    return fail(ErrorCode::kBadCertificate, "the new CA certificate is not signed by its own key");
  MPAY_RETURN_IF_ERROR(verifyChain(next.get(), next.get()));
  if (X509_check_ca(next.get()) == 0) return fail(ErrorCode::kBadCertificate, "the new CA certificate is not a CA");
  Status last = fail(ErrorCode::kBadCertificate, "no cross certificate certifies the new CA's key");
  for (const Bytes& link_der : trust.cross) {
    MPAY_ASSIGN_OR_RETURN(X509Ptr link, parseDer(link_der));
    if (EVP_PKEY_eq(X509_get0_pubkey(link.get()), X509_get0_pubkey(next.get())) != 1 ||
        X509_NAME_cmp(X509_get_subject_name(link.get()), X509_get_subject_name(next.get())) != 0 ||
        X509_check_ca(link.get()) == 0)
      continue;
    last = verifyChain(link.get(), trust);
    if (last.ok()) return last;
  }
  return last;
}

Result<UserCertificate> verifyUserCertificate(ByteView user_der, ByteView ca_der) {
  return verifyUserCertificate(user_der, CaTrust{{Bytes(ca_der.begin(), ca_der.end())}, {}});
}

Result<UserCertificate> verifyUserCertificate(ByteView user_der, const CaTrust& trust) {
  MPAY_ASSIGN_OR_RETURN(TrustedCas parsed, TrustedCas::parse(trust));
  return verifyUserCertificate(user_der, parsed);
}

Result<UserCertificate> verifyUserCertificate(ByteView user_der, const TrustedCas& trust) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr user, parseDer(user_der));
  Validity chain;
  MPAY_RETURN_IF_ERROR(buildChain(user.get(), trust.parsed().anchors, trust.parsed().cross, &chain));
  if (X509_check_ca(user.get()) != 0) return fail(ErrorCode::kBadCertificate, "user certificate is a CA");
  auto key = suite::EcPublicKey::fromPkey(X509_get0_pubkey(user.get()));
  if (!key) return fail(ErrorCode::kBadCertificate, "user certificate key is not P-256");
  auto text = [&](int nid) -> std::string {
    X509_NAME* name = X509_get_subject_name(user.get());
    int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0) return {};
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
  };
  UserCertificate out{std::move(key).value(), text(NID_commonName), text(NID_serialNumber),
                      secondsOf(X509_get0_notBefore(user.get())), secondsOf(X509_get0_notAfter(user.get())), chain};
  // Only user-profile certificates name a phone and a SIM (not the receipt certificate).
  if (!suite::validPhone(out.phone) || !suite::validSim(out.sim))
    return fail(ErrorCode::kBadCertificate, "not a user certificate");
  return out;
}

Result<Validity> certificateValidity(ByteView cert_der) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  return Validity{secondsOf(X509_get0_notBefore(cert.get())), secondsOf(X509_get0_notAfter(cert.get()))};
}

Result<suite::EcPublicKey> certificatePublicKey(ByteView cert_der) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  return suite::EcPublicKey::fromPkey(X509_get0_pubkey(cert.get()));
}

Result<Bytes> subjectNameDer(ByteView cert_der) {
  MPAY_ASSIGN_OR_RETURN(X509Ptr cert, parseDer(cert_der));
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(X509_get_subject_name(cert.get()), &der);
  if (len <= 0) return x509Error("subject name");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string certificatePem(ByteView der) {
  auto cert = parseDer(der);
  if (!cert) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.value().get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string privateKeyPem(const suite::EcPrivateKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key.pkey(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string publicKeyPem(const suite::EcPublicKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key.pkey());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace mpay::ca
