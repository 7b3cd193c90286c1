// The real mpay-signer binary, started on a DevAppliance's config and
// stopped with SIGTERM when the object goes away.
#pragma once
#include <sys/types.h>

#include <string>

#include "gateway/signer_client.h"
#include "support/dev_appliance.h"

namespace mpay::test {

class SignerProcess {
 public:
  explicit SignerProcess(const DevAppliance& appliance);
  ~SignerProcess();
  pid_t pid() const { return pid_; }
  gateway::SignerClient connect() const;
  // Stops it and returns the exit status (as waitpid reports it).
  int stop();

 private:
  const DevAppliance& appliance_;
  pid_t pid_ = -1;
};

}  // namespace mpay::test
