// The appliance configuration: one INI file read with Poco's configuration
// classes. Every key is declared below; an unknown section or key is an
// error, so a typo never silently falls back to a default.
#pragma once
#include <cstdint>
#include <string>

#include "common/result.h"

namespace mpay {

struct HsmConfig {
  std::string module;         // PKCS#11 module path, or "p11-kit:NAME" for a registered module
  std::string token_uri;      // RFC 7512 URI selecting the token, e.g. pkcs11:token=mpay
  std::string pin_file;       // user PIN, one line, readable by the signer only
  std::string softhsm2_conf;  // optional: exported as SOFTHSM2_CONF before the module loads
};

struct SignerConfig {
  std::string socket;          // Unix socket path; mode 0660
  int workers = 0;             // worker processes; 0 = one per core
  int threads = 4;             // connections served at once by each worker
  std::uint32_t max_frame = 65536;
  std::string audit_log;       // append-only, hash-chained
  long gateway_uid = -1;       // uid allowed the gateway role; -1 = the signer's own uid
  long admin_uid = 0;          // uid allowed the admin role
  int pkcs12_iterations = 200000;  // PBKDF2 iterations in the certificate file
};

struct GatewayConfig {
  int port = 8443;
  std::string db_url;  // sqlite file path or postgresql:// URL
  std::string outbox;  // JSON-lines outbox for confirmation codes (development)
};

struct Config {
  std::string path;        // the file this was loaded from
  std::string public_dir;  // PEM exports: service public key, ca.pem, receipt.pem
  std::string policy_dir;  // policy/ files
  HsmConfig hsm;
  SignerConfig signer;
  GatewayConfig gateway;

  static Result<Config> load(const std::string& path);
};

}  // namespace mpay
