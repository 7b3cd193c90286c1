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
#include <Poco/Util/Application.h>

#include <map>
#include <string>
#include <vector>

namespace mpay::client {

class ClientApp : public Poco::Util::Application {
 public:
  ClientApp();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void takeOption(const std::string& name, const std::string& value);
  std::map<std::string, std::string> options_;
};

int runClient(int argc, char** argv);

}  // namespace mpay::client
