// mpay-gateway --config FILE
//
// Start-up, in order: load the config; open the database and apply
// migrations; connect the notifier and the acquirer; open the HTTP(S)
// listener (plain HTTP only on a loopback address); serve until SIGTERM.
#pragma once
#include <Poco/Util/ServerApplication.h>

#include <string>
#include <vector>

#include "common/config_option.h"

namespace mpay::gateway {

class GatewayApp : public WithConfigOption<Poco::Util::ServerApplication> {
 protected:
  int main(const std::vector<std::string>& args) override;
};

int runGateway(int argc, char** argv);

}  // namespace mpay::gateway
