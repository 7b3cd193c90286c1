// mpay-admin: key ceremony, development setup, audit verification.
//   mpay-admin init --config FILE
//   mpay-admin dev-setup --dir DIR [--port N]
//   mpay-admin audit verify --config FILE
//   mpay-admin status --config FILE      (asks the running signer, as admin)
//   mpay-admin orders [complete] --config FILE  (open orders; as the gateway's user)
//   mpay-admin reconcile --ledger FILE --config FILE  (the acquirer's file against the orders)
//   mpay-admin operations                (the signer's operation table, Markdown)
//   mpay-admin policy check|explain --config FILE
//   mpay-admin token clone --from FILE --config FILE  (SoftHSM2 only)
#pragma once
#include <Poco/Util/Application.h>

#include <string>
#include <vector>

#include "admin/key_rotation.h"

namespace mpay::admin {

class AdminApp : public Poco::Util::Application {
 public:
  AdminApp();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void takeOption(const std::string& name, const std::string& value);
  int initCommand(bool new_platform = false);
  int handBackFiles(const Config& config);
  int devSetupCommand();
  int auditVerifyCommand();
  int statusCommand();

  std::string config_;
  std::string dir_;
  std::string public_key_;
  std::string checkpoint_;
  std::string ledger_;
  std::string from_;
  bool new_platform_confirmed_ = false;
  std::uint64_t overlap_seconds_ = kDefaultOverlapSeconds;
  int port_ = 8443;
};

// Parses options (a bad one is a usage error, exit 2) and runs the command.
int runAdmin(int argc, char** argv);

}  // namespace mpay::admin
