// `mpay-admin dev-setup`: a complete development appliance in one directory:
// config, SoftHSM2 config and token, PIN files, policy copy, and the key
// ceremony. Running it again keeps the token and its keys.
#pragma once
#include <string>

#include "common/result.h"

namespace mpay::admin {

struct DevSetupOptions {
  std::string dir;
  int port = 8443;
  std::string policy_source;  // policy/ to copy; default: the source tree's
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
};

// Returns the path of the written DIR/mpay.ini.
Result<std::string> devSetup(const DevSetupOptions& options);

}  // namespace mpay::admin
