#include "suite/acquirer_answer.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "suite/openssl_ptr.h"

namespace mpay::suite {
namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

Result<FilePtr> openFile(const std::string& path, const char* mode) {
  FilePtr f(std::fopen(path.c_str(), mode), &std::fclose);
  if (!f) return fail(ErrorCode::kConfig, "cannot open " + path);
  return f;
}

}  // namespace

Bytes acquirerAnswerBytes(const AcquirerAnswer& a) {
  ByteWriter w;
  w.field(label::kAcquirerAnswer).field(a.order_no).field(a.phone).u64(a.amount_minor).field(a.currency)
      .u8(static_cast<std::uint8_t>(a.result)).field(a.transaction_no).u64(a.time);
  return w.take();
}

Result<EcPublicKey> loadAcquirerCertificate(const std::string& pem_path) {
  MPAY_ASSIGN_OR_RETURN(FilePtr f, openFile(pem_path, "r"));
  ossl::X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail(ErrorCode::kConfig, pem_path + " holds no PEM certificate");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (!key) return fail(ErrorCode::kConfig, pem_path + ": no public key");
  auto pub = EcPublicKey::fromPkey(key);
  if (!pub) return fail(ErrorCode::kConfig, pem_path + ": the acquirer key must be EC P-256");
  return pub;
}

Result<EcPrivateKey> loadAcquirerKey(const std::string& pem_path) {
  MPAY_ASSIGN_OR_RETURN(FilePtr f, openFile(pem_path, "r"));
  ossl::PkeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!key) return fail(ErrorCode::kConfig, pem_path + " holds no PEM private key");
  auto priv = EcPrivateKey::fromPkey(key.get());
  if (!priv) return fail(ErrorCode::kConfig, pem_path + ": the acquirer key must be EC P-256");
  return priv;
}

Status makeAcquirerIdentity(const std::string& key_path, const std::string& cert_path) {
  if (std::filesystem::exists(key_path) && std::filesystem::exists(cert_path)) return {};
  ossl::PkeyPtr key(EVP_EC_gen("P-256"));
  ossl::X509Ptr cert(X509_new());
  if (!key || !cert) return fail(ErrorCode::kInternal, "acquirer key generation");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>("mpay development acquirer");
  const bool built = X509_set_version(cert.get(), 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1 &&
                     X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) && 
                     X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400) &&
                     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) == 1 &&
                     X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key.get()) == 1 &&
                     X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!built) return fail(ErrorCode::kInternal, "acquirer certificate");
  {
    const mode_t old = umask(077);
    auto f = openFile(key_path, "w");
    umask(old);
    if (!f) return std::move(f).error();
    if (PEM_write_PrivateKey(f->get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return fail(ErrorCode::kIo, "cannot write " + key_path);
  }
  MPAY_ASSIGN_OR_RETURN(FilePtr f, openFile(cert_path, "w"));
  if (PEM_write_X509(f.get(), cert.get()) != 1) return fail(ErrorCode::kIo, "cannot write " + cert_path);
  return {};
}

}  // namespace mpay::suite
