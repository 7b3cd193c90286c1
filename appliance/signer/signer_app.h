// mpay-signer --config FILE
//
// Start-up, in order: load the config; load policy/keys; bind the socket;
// fork the workers. Each worker then loads the PKCS#11 module (never before
// fork: SoftHSM2 does not survive one), logs in, copies the platform keys
// into its sessions, writes a start record with the policy's SHA-256 into
// the audit log and serves. The parent never touches the token: it restarts
// crashed workers with backoff and stops them all on SIGTERM.
#pragma once
#include <Poco/Util/Application.h>

#include <string>
#include <vector>

#include "common/config_option.h"

namespace mpay::signer {

class SignerApp : public WithConfigOption<Poco::Util::Application> {
 protected:
  int main(const std::vector<std::string>& args) override;
};

int runSigner(int argc, char** argv);

}  // namespace mpay::signer
