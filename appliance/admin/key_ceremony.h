// The key ceremony (S01): creates every platform key inside the token from
// policy/keys, the self-signed CA certificate and the receipt certificate,
// and exports the public parts. Idempotent: what exists is left alone.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "hsm/key_policy.h"

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
  std::vector<std::string> exported;  // files written in the public directory
};

Result<CeremonyReport> runKeyCeremony(const Config& config);

}  // namespace mpay::admin
