// mpay-client: the phone, as a command line.
//   mpay-client --server URL --state DIR register --phone P --imei I --sim S --password PW --pin PIN
//               --name NAME --id-number ID [--json]
//   ... activate --registration-code RC --confirmation-code CC
//   ... login --password PW
//   ... pay --password PW --pin PIN --order ORDER --amount 12.34 --currency CNY [--content TEXT] [--critical] [--json]
//   ... status
// Exit 0 only on success. It checks the registration file's MAC, the login
// digest and the receipt signature, and fails loudly if any check fails.
#pragma once
#include <string>
#include <vector>

#include "common/option_map_app.h"

namespace mpay::client {

class ClientApp : public OptionMapApp {
 public:
  ClientApp();

 protected:
  int main(const std::vector<std::string>& args) override;
};

int runClient(int argc, char** argv);

}  // namespace mpay::client
