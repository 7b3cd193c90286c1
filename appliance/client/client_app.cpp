#include "client/client_app.h"

#include <iostream>

#include "client/client_commands.h"
#include "common/command_line.h"

namespace mpay::client {
namespace {

constexpr char kUsageText[] =
    "usage: mpay-client --server URL --state DIR [--ca FILE] COMMAND [options]\n"
    "  register --phone P --imei I --sim S --password PW --pin PIN --name NAME --id-number ID [--json]\n"
    "  activate --registration-code RC --confirmation-code CC\n"
    "  login --password PW\n"
    "  pay --password PW --pin PIN --order ORDER --amount 12.34 --currency CNY [--content TEXT] [--critical] [--json]\n"
    "  status\n";

}  // namespace

ClientApp::ClientApp()
    : OptionMapApp({"server", "state", "ca", "phone", "imei", "sim", "password", "pin", "name", "id-number",
                    "registration-code", "confirmation-code", "order", "amount", "currency", "content"},
                   {"json", "critical"}) {}

int ClientApp::main(const std::vector<std::string>& args) {
  if (args.size() != 1 || !options().contains("server") || !options().contains("state")) {
    std::cerr << kUsageText;
    return kExitUsage;
  }
  const std::string& verb = args.front();
  if (verb == "register") return registerCommand(options());
  if (verb == "activate") return activateCommand(options());
  if (verb == "login") return loginCommand(options());
  if (verb == "pay") return payCommand(options());
  if (verb == "status") return statusCommand(options());
  std::cerr << "mpay-client: unknown command " << verb << "\n" << kUsageText;
  return kExitUsage;
}

int runClient(int argc, char** argv) {
  ClientApp app;
  return runCommandLine(app, argc, argv, "mpay-client", kUsageText);
}

}  // namespace mpay::client
