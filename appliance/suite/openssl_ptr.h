// Ownership of OpenSSL objects: one unique_ptr alias per type mpay uses, so
// every file frees them the same way.
#pragma once
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <memory>

namespace mpay::ossl {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Freer<T, Free>>;

inline void freeBytes(unsigned char* p) { OPENSSL_free(p); }
inline void freeCertStack(STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); }
inline void freeStackOnly(STACK_OF(X509)* s) { sk_X509_free(s); }  // the certificates have other owners

using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using CipherCtxPtr = Ptr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using KdfCtxPtr = Ptr<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using MacCtxPtr = Ptr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using BnPtr = Ptr<BIGNUM, BN_clear_free>;  // scalars are secrets: always cleared
using GroupPtr = Ptr<EC_GROUP, EC_GROUP_free>;
using PointPtr = Ptr<EC_POINT, EC_POINT_free>;
using ParamBldPtr = Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = Ptr<OSSL_PARAM, OSSL_PARAM_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using X509Ptr = Ptr<X509, X509_free>;
using BitStringPtr = Ptr<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using StoreCtxPtr = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using StorePtr = Ptr<X509_STORE, X509_STORE_free>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using P12Ptr = Ptr<PKCS12, PKCS12_free>;
using P8Ptr = Ptr<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;
using CertStackPtr = Ptr<STACK_OF(X509), freeCertStack>;
using X509StackPtr = Ptr<STACK_OF(X509), freeStackOnly>;
using NamePtr = Ptr<X509_NAME, X509_NAME_free>;
using BytesPtr = Ptr<unsigned char, freeBytes>;  // DER buffers from i2d_*

}  // namespace mpay::ossl
