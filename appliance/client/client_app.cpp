#include "client/client_app.h"

#include <Poco/Exception.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

#include "client/client_commands.h"

namespace mpay::client {
namespace {

constexpr int kUsage = 64;
constexpr char kUsageText[] =
    "usage: mpay-client --server URL --state DIR [--ca FILE] COMMAND [options]\n"
    "  register --phone P --imei I --sim S --password PW --pin PIN --name NAME --id-number ID [--json]\n"
    "  activate --registration-code RC --confirmation-code CC\n"
    "  login --password PW\n"
    "  pay --password PW --pin PIN --order ORDER --amount 12.34 --currency CNY [--content TEXT] [--critical] [--json]\n"
    "  status\n";

}  // namespace

ClientApp::ClientApp() { setUnixOptions(true); }

void ClientApp::defineOptions(Poco::Util::OptionSet& options) {
  auto take = Poco::Util::OptionCallback<ClientApp>(this, &ClientApp::takeOption);
  for (const char* name : {"server", "state", "ca", "phone", "imei", "sim", "password", "pin", "name", "id-number",
                           "registration-code", "confirmation-code", "order", "amount", "currency", "content"})
    options.addOption(Poco::Util::Option(name, "", name).argument("VALUE").repeatable(false).callback(take));
  for (const char* name : {"json", "critical"})
    options.addOption(Poco::Util::Option(name, "", name).repeatable(false).callback(take));
}

void ClientApp::takeOption(const std::string& name, const std::string& value) { options_[name] = value; }

int ClientApp::main(const std::vector<std::string>& args) {
  if (args.size() != 1 || !options_.contains("server") || !options_.contains("state")) {
    std::cerr << kUsageText;
    return kUsage;
  }
  const std::string& verb = args.front();
  if (verb == "register") return registerCommand(options_);
  if (verb == "activate") return activateCommand(options_);
  if (verb == "login") return loginCommand(options_);
  if (verb == "pay") return payCommand(options_);
  if (verb == "status") return statusCommand(options_);
  std::cerr << "mpay-client: unknown command " << verb << "\n" << kUsageText;
  return kUsage;
}

int runClient(int argc, char** argv) {
  ClientApp app;
  try {
    app.init(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "mpay-client: " << e.displayText() << "\n" << kUsageText;
    return kUsage;
  }
  return app.run();
}

}  // namespace mpay::client
