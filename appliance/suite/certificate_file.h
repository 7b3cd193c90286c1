// The certificate file of S06/S09: a standard PKCS#12 with the user's key,
// the user's certificate and the CA certificate. Key and certificate bags
// are encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC); the MAC is
// HMAC-SHA256. The password is the info3 encoding (suite/messages.h).
// `openssl pkcs12 -in FILE -passin pass:INFO3` opens it.
#pragma once
#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "suite/ec.h"

namespace mpay::suite {

Result<Bytes> buildCertificateFile(const Secret& pkcs8_private_key, ByteView user_cert_der, ByteView ca_cert_der,
                                   const Secret& password, int iterations);

struct OpenedCertificateFile {
  EcPrivateKey private_key;
  Bytes user_cert_der;
  Bytes ca_cert_der;
};
Result<OpenedCertificateFile> openCertificateFile(ByteView p12, const Secret& password);

}  // namespace mpay::suite
