// mpay-gateway --config FILE
//
// Start-up, in order: load the config; open the database and apply
// migrations; connect the notifier and the acquirer; open the HTTP(S)
// listener (plain HTTP only on a loopback address); serve until SIGTERM.
#pragma once
#include <Poco/Util/ServerApplication.h>

#include <string>
#include <vector>

namespace mpay::gateway {

class GatewayApp : public Poco::Util::ServerApplication {
 public:
  GatewayApp();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void takeConfig(const std::string& name, const std::string& value);
  std::string config_path_;
};

int runGateway(int argc, char** argv);

}  // namespace mpay::gateway
