#include "suite/certificate_file.h"

#include "suite/openssl_ptr.h"

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace mpay::suite {
namespace {

using ossl::CertStackPtr;
using ossl::P12Ptr;
using ossl::P8Ptr;
using ossl::X509Ptr;
using OwnedPkey = ossl::PkeyPtr;

Result<X509Ptr> parseCert(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) return fail(ErrorCode::kBadCertificate, "not a DER certificate");
  return cert;
}

Bytes certDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  Bytes out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

// PKCS#12 passwords are C strings: the info3 encoding never contains NUL.
std::string passwordText(const Secret& password) { return std::string(password.exposeSecretText()); }

}  // namespace

Result<Bytes> buildCertificateFile(const Secret& pkcs8_private_key, ByteView user_cert_der, ByteView ca_cert_der,
                                   const Secret& password, int iterations) {
  const unsigned char* p = pkcs8_private_key.exposeSecret().data();
  P8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(pkcs8_private_key.size())));
  if (!p8) return fail(ErrorCode::kInternal, "wrapped user key is not PKCS#8");
  OwnedPkey key(EVP_PKCS82PKEY(p8.get()));
  if (!key) return fail(ErrorCode::kInternal, "PKCS#8 key does not load");
  MPAY_ASSIGN_OR_RETURN(X509Ptr user, parseCert(user_cert_der));
  MPAY_ASSIGN_OR_RETURN(X509Ptr ca, parseCert(ca_cert_der));
  if (X509_check_private_key(user.get(), key.get()) != 1)
    return fail(ErrorCode::kInternal, "user key does not match its certificate");
  CertStackPtr chain(sk_X509_new_null());
  if (!chain || !sk_X509_push(chain.get(), ca.get())) return fail(ErrorCode::kInternal, "cert stack");
  X509_up_ref(ca.get());
  std::string pass = passwordText(password);
  // MAC added separately below so that its digest is SHA-256 explicitly.
  P12Ptr p12(PKCS12_create(pass.c_str(), "mpay user key", key.get(), user.get(), chain.get(), NID_aes_256_cbc,
                           NID_aes_256_cbc, iterations, -1, 0));
  const bool mac_ok =
      p12 && PKCS12_set_mac(p12.get(), pass.c_str(), -1, nullptr, 0, iterations, EVP_sha256()) == 1;
  OPENSSL_cleanse(pass.data(), pass.size());
  if (!mac_ok) return fail(ErrorCode::kInternal, "PKCS12_create failed");
  unsigned char* der = nullptr;
  int len = i2d_PKCS12(p12.get(), &der);
  if (len <= 0) return fail(ErrorCode::kInternal, "PKCS#12 encode failed");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<OpenedCertificateFile> openCertificateFile(ByteView file, const Secret& password) {
  const unsigned char* p = file.data();
  P12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(file.size())));
  if (!p12 || p != file.data() + file.size()) return fail(ErrorCode::kBadFrame, "not a PKCS#12 file");
  std::string pass = passwordText(password);
  const bool mac_ok = PKCS12_verify_mac(p12.get(), pass.c_str(), -1) == 1;
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_chain = nullptr;
  const bool parsed = mac_ok && PKCS12_parse(p12.get(), pass.c_str(), &raw_key, &raw_cert, &raw_chain) == 1;
  OPENSSL_cleanse(pass.data(), pass.size());
  OwnedPkey key(raw_key);
  X509Ptr cert(raw_cert);
  CertStackPtr chain(raw_chain);
  if (!parsed || !key || !cert || !chain || sk_X509_num(chain.get()) != 1)
    return fail(ErrorCode::kDecryptFailed, "certificate file does not open with this info3");
  MPAY_ASSIGN_OR_RETURN(EcPrivateKey private_key, EcPrivateKey::fromPkey(key.get()));
  return OpenedCertificateFile{std::move(private_key), certDer(cert.get()), certDer(sk_X509_value(chain.get(), 0))};
}

}  // namespace mpay::suite
