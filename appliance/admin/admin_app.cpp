#include "admin/admin_app.h"

#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>
#include <iostream>

#include "admin/dev_setup.h"
#include "admin/key_ceremony.h"
#include "admin/key_rotation.h"
#include "admin/open_orders.h"
#include "admin/policy_report.h"
#include "admin/reconcile.h"
#include "admin/signer_state_admin.h"
#include "admin/token_clone.h"
#include "common/audit_log.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/identity.h"
#include "common/ownership.h"
#include "signer/signer_limits.h"
#include "suite/acquirer_answer.h"
#include "gateway/api_error.h"
#include "gateway/signer_client.h"
#include "signer/operation_docs.h"

namespace mpay::admin {
namespace {

using Poco::Util::Option;
using Poco::Util::OptionCallback;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

constexpr char kUsage[] =
    "usage: mpay-admin init --config FILE\n"
    "       mpay-admin new-platform --config FILE --every-phone-registers-again\n"
    "       mpay-admin dev-setup --dir DIR [--port N]\n"
    "       mpay-admin audit verify --config FILE [--public-key audit.pem [--checkpoint FILE]]\n"
    "       mpay-admin status --config FILE\n"
    "       mpay-admin orders [complete] --config FILE\n"
    "       mpay-admin reconcile --ledger FILE --config FILE\n"
    "       mpay-admin operations\n"
    "       mpay-admin policy check --config FILE\n"
    "       mpay-admin policy explain --config FILE\n"
    "       mpay-admin state new --config FILE\n"
    "       mpay-admin token clone --from FIRST.ini --config FILE   (SoftHSM2: a second appliance's token)\n"
    "       mpay-admin rotate service|receipt|verifier|kek|ca begin|switch|retire|status --config FILE [--overlap SECONDS]\n";

int failWith(const Error& e) {
  std::cerr << "mpay-admin: " << errorName(e.code) << ": " << e.detail << "\n";
  return kExitFailure;
}

int usageError(const std::string& why) { return mpay::usageError("mpay-admin", why, kUsage); }

// Run as root with the service accounts present: every file back to its
// owner (assignOwnership); otherwise nothing to do.
Status handBackTokenFiles(const Config& config) {
  if (geteuid() != 0) return {};
  auto signer = lookupAccount(config.signer.user);
  auto gateway = lookupAccount(config.gateway.user);
  if (!signer || !gateway) return {};
  return assignOwnership(config, signer.value(), gateway.value());
}

}  // namespace

AdminApp::AdminApp() { setUnixOptions(true); }

void AdminApp::defineOptions(Poco::Util::OptionSet& options) {
  auto take = OptionCallback<AdminApp>(this, &AdminApp::takeOption);
  options.addOption(helpOption());
  options.addOption(Option("config", "c", "configuration file").argument("FILE").callback(take));
  options.addOption(Option("dir", "d", "directory for dev-setup").argument("DIR").callback(take));
  options.addOption(Option("from", "", "token clone: the first appliance's configuration").argument("FILE").callback(take));
  options.addOption(Option("ledger", "", "reconcile: the acquirer's reconciliation file").argument("FILE").callback(take));
  options.addOption(Option("port", "p", "gateway port for dev-setup").argument("N").callback(take));
  options.addOption(Option("public-key", "", "audit verify: the audit key's certificate (audit.pem)").argument("FILE").callback(take));
  options.addOption(Option("checkpoint", "", "audit verify: an exported checkpoint kept elsewhere").argument("FILE").callback(take));
  options.addOption(Option("overlap", "", "rotate service switch: seconds the previous key is still opened (default 7 days)")
                        .argument("SECONDS").callback(take));
  options.addOption(Option("every-phone-registers-again", "", "new-platform: destroy the platform's keys and make new ones")
                        .callback(take));
}

void AdminApp::takeOption(const std::string& name, const std::string& value) {
  if (name == "config") config_ = value;
  if (name == "dir") dir_ = value;
  if (name == "ledger") ledger_ = value;
  if (name == "from") from_ = value;
  if (name == "public-key") public_key_ = value;
  if (name == "checkpoint") checkpoint_ = value;
  if (name == "every-phone-registers-again") new_platform_confirmed_ = true;
  if (name == "overlap") {
    Poco::UInt64 seconds = 0;
    if (!Poco::NumberParser::tryParseUnsigned64(value, seconds) || seconds < 1 || seconds > 366ULL * 24 * 3600)
      throw Poco::InvalidArgumentException("--overlap must be 1..31622400 seconds");
    overlap_seconds_ = seconds;
  }
  if (name == "port") {
    int port = 0;
    // The acquirer simulator and the metrics listener take the next two ports.
    if (!Poco::NumberParser::tryParse(value, port) || port < 1 || port > 65533)
      throw Poco::InvalidArgumentException("--port must be 1..65533");
    port_ = port;
  }
}

int AdminApp::main(const std::vector<std::string>& args) {
  if (args == std::vector<std::string>{"init"}) return initCommand();
  if (args == std::vector<std::string>{"new-platform"}) return initCommand(true);
  if (args == std::vector<std::string>{"dev-setup"}) return devSetupCommand();
  if (args == std::vector<std::string>{"audit", "verify"}) return auditVerifyCommand();
  if (args == std::vector<std::string>{"status"}) return statusCommand();
  if (args == std::vector<std::string>{"reconcile"}) {
    if (config_.empty() || ledger_.empty()) return usageError("reconcile needs --config and --ledger");
    auto config = Config::load(config_);
    if (!config) return failWith(config.error());
    auto result = reconcile(config.value(), ledger_);
    if (!result) return failWith(result.error());
    std::cout << result->report;
    return result->discrepancies == 0 ? kExitOk : kExitFailure;
  }
  if (args == std::vector<std::string>{"orders"} || args == std::vector<std::string>{"orders", "complete"}) {
    if (config_.empty()) return usageError("orders needs --config");
    auto config = Config::load(config_);
    if (!config) return failWith(config.error());
    auto table = args.size() == 1 ? listOpenOrders(config.value()) : completeOpenOrders(config.value());
    if (!table) return failWith(table.error());
    std::cout << table.value();
    return kExitOk;
  }
  if (args == std::vector<std::string>{"policy", "explain"} || args == std::vector<std::string>{"policy", "check"}) {
    if (config_.empty()) return usageError("policy " + args[1] + " needs --config");
    auto config = Config::load(config_);
    if (!config) return failWith(config.error());
    if (args[1] == "explain") {
      auto report = explainPolicy(config.value());
      if (!report) return failWith(report.error());
      std::cout << report.value();
      return kExitOk;
    }
    std::vector<std::string> fingerprints;
    auto mismatches = checkPolicy(config.value(), &fingerprints);
    if (!mismatches) return failWith(mismatches.error());
    for (const auto& m : mismatches.value()) std::cout << "MISMATCH " << m << "\n";
    std::cout << "platform keys (the same on every appliance of one cluster):\n";
    for (const auto& f : fingerprints) std::cout << "  " << f << "\n";
    if (!mismatches->empty()) return kExitFailure;
    std::cout << "policy ok: every file parses and every platform key matches policy/keys\n";
    return kExitOk;
  }
  if (args == std::vector<std::string>{"token", "clone"}) {
    if (config_.empty() || from_.empty()) return usageError("token clone needs --from and --config");
    auto from = Config::load(from_);
    if (!from) return failWith(from.error());
    auto to = Config::load(config_);
    if (!to) return failWith(to.error());
    auto done = cloneSoftHsmToken(from.value(), to.value());
    if (!done) return failWith(done.error());
    std::cout << done.value();
    return kExitOk;
  }
  if (args == std::vector<std::string>{"state", "new"}) {
    if (config_.empty()) return usageError("state new needs --config");
    auto config = Config::load(config_);
    if (!config) return failWith(config.error());
    auto made = newSignerState(config.value());
    if (!made) return failWith(made.error());
    std::cout << made.value();
    return kExitOk;
  }
  const auto& rotating = hsm::RotationState::kinds();
  if (args.size() == 3 && args[0] == "rotate" && std::find(rotating.begin(), rotating.end(), args[1]) != rotating.end()) {
    if (config_.empty()) return usageError("rotate needs --config");
    auto config = Config::load(config_);
    if (!config) return failWith(config.error());
    RotationStep step{args[1], args[2], overlap_seconds_, [] { return static_cast<std::uint64_t>(std::time(nullptr)); },
                      [](int seconds) {
                        std::cerr << "mpay-admin: waiting " << seconds << " s for the signer's workers\n";
                        std::this_thread::sleep_for(std::chrono::seconds(seconds));
                      },
                      [&config] { return handBackTokenFiles(config.value()); }};
    auto done = rotateKey(config.value(), step);
    if (!done) return failWith(done.error());
    std::cout << done.value();
    return kExitOk;
  }
  if (!args.empty() && args[0] == "rotate")
    return usageError("rotate takes: service|receipt|verifier|kek|ca begin|switch|retire|status");
  if (args == std::vector<std::string>{"operations"}) {
    std::cout << signer::renderOperationTable() << "\n" << signer::renderErrorCodes() << "\n"
              << gateway::renderApiErrors();
    return kExitOk;
  }
  return usageError(args.empty() ? "no command" : "unknown command: " + args.front());
}

int AdminApp::initCommand(bool new_platform) {
  if (config_.empty()) return usageError("init needs --config");
  if (new_platform && !new_platform_confirmed_)
    return usageError("new-platform destroys every platform key: every registered phone must register again, and "
                      "every user in the database becomes unusable. Say --every-phone-registers-again to go on.");
  auto config = Config::load(config_);
  if (!config) return failWith(config.error());
  if (new_platform) std::cerr << "mpay-admin: destroying the platform's keys; every phone must register again\n";
  auto report = new_platform ? startNewPlatform(config.value()) : runKeyCeremony(config.value());
  if (!report) return failWith(report.error());
  for (const auto& key : report->keys)
    std::cout << (key.created ? "created  " : "present  ") << key.name << "  " << key.uri << "\n";
  std::cout << (report->ca_cert_created ? "created  " : "present  ") << "ca certificate\n";
  std::cout << (report->receipt_cert_created ? "created  " : "present  ") << "receipt certificate\n";
  std::cout << (report->audit_cert_created ? "created  " : "present  ") << "audit certificate (audit.pem: checks the audit log's checkpoints)\n";
  for (const auto& file : report->exported) std::cout << "exported " << file << "\n";
  return handBackFiles(config.value());
}

// A command run as root may have added token files (the ceremony, a
// rotation step) that the signer, running as its own user, could not read:
// SoftHSM2 skips an object file it cannot open, as if it did not exist.
int AdminApp::handBackFiles(const Config& config) {
  if (geteuid() != 0) return kExitOk;
  if (!lookupAccount(config.signer.user) || !lookupAccount(config.gateway.user)) {
    std::cout << "owners   unchanged: no users " << config.signer.user << "/" << config.gateway.user
              << " (single-user mode)\n";
    return kExitOk;
  }
  if (auto owned = handBackTokenFiles(config); !owned.ok()) return failWith(owned.error());
  std::cout << "owners   signer files: " << config.signer.user << ", gateway files: " << config.gateway.user << "\n";
  return kExitOk;
}

int AdminApp::devSetupCommand() {
  if (dir_.empty()) return usageError("dev-setup needs --dir");
  auto ini = devSetup({dir_, port_, "", "/usr/lib/softhsm/libsofthsm2.so"});
  if (!ini) return failWith(ini.error());
  std::cout << ini.value() << "\n";
  return kExitOk;
}

int AdminApp::auditVerifyCommand() {
  if (config_.empty()) return usageError("audit verify needs --config");
  auto config = Config::load(config_);
  if (!config) return failWith(config.error());
  if (public_key_.empty()) {
    if (!checkpoint_.empty()) return usageError("--checkpoint needs --public-key");
    auto result = verifyAuditLog(config->signer.audit_log);
    if (!result) return failWith(result.error());
    std::cout << "audit log ok: " << result->records << " records, head " << result->head_hash
              << " (chain only: without --public-key nothing is proven against a rewrite)\n";
    return kExitOk;
  }
  auto key = suite::loadAcquirerCertificate(public_key_);  // any P-256 certificate
  if (!key) return failWith(key.error());
  std::string anchor;
  if (!checkpoint_.empty()) {
    std::ifstream in(checkpoint_);
    if (!in) return failWith(fail(ErrorCode::kIo, "cannot read " + checkpoint_));
    std::getline(in, anchor);
    if (anchor.empty()) return failWith(fail(ErrorCode::kIo, checkpoint_ + " is empty: no checkpoint to check against"));
  }
  auto result = verifyAuditLog(config->signer.audit_log, key.value(), anchor);
  if (!result) return failWith(result.error());
  std::cout << "audit log ok: " << result->records << " records, " << result->checkpoints
            << " signed checkpoints, the last covering record " << result->last_covered;
  if (result->anchor_seq) std::cout << ", the exported checkpoint " << result->anchor_seq << " is in it";
  std::cout << "\n";
  // The last checkpoint is record last_covered + 1; what follows it is not signed yet.
  const std::uint64_t unsigned_tail = result->records - (result->last_covered + 1);
  if (unsigned_tail > 0)
    std::cout << "not yet signed: " << unsigned_tail
              << " records after the last checkpoint (a rewrite or cut-off there cannot be detected)\n";
  // The signer checkpoints at least every audit_checkpoint_records records: a
  // much longer tail means checkpoints were cut away (or signing failed).
  auto limits = signer::SignerLimits::load(config->policy_dir + "/signer.limits");
  if (!limits) return failWith(limits.error());
  if (unsigned_tail > 2 * std::uint64_t{limits->audit_checkpoint_records})
    return failWith(fail(ErrorCode::kIo, "more records after the last checkpoint than two checkpoint intervals: "
                                         "checkpoints were removed, or the signer could not sign "
                                         "(event=audit_checkpoint_failed in its log)"));
  if (checkpoint_.empty())
    std::cout << "without --checkpoint (a copy kept off the appliance), a log cut back to an earlier checkpoint "
                 "and rewritten after it cannot be told apart\n";
  return kExitOk;
}

int AdminApp::statusCommand() {
  if (config_.empty()) return usageError("status needs --config");
  auto config = Config::load(config_);
  if (!config) return failWith(config.error());
  auto signer = gateway::SignerClient::connect(config->signer.socket, 5000);
  if (!signer) return failWith(signer.error());
  auto info = signer->platformInfo();
  if (!info) return failWith(info.error());
  auto health = signer->health();
  if (!health) return failWith(health.error());
  static constexpr const char* kHealth[] = {"healthy", "degraded", "down"};
  std::cout << "signer:      " << config->signer.socket << "\n"
            << "suite:       " << info->suite << "\n"
            << "hsm:         " << kHealth[std::min<int>(health->state, 2)] << "\n";
  auto head = signer->auditHead();
  if (head) std::cout << "audit head:  seq " << head->seq << " " << head->hash << "\n";
  else std::cout << "audit head:  " << errorName(head.error().code) << " (this uid is not the admin role)\n";
  return health->state == 2 ? kExitFailure : kExitOk;
}

int runAdmin(int argc, char** argv) {
  AdminApp app;
  return runCommandLine(app, argc, argv, "mpay-admin", kUsage);
}

}  // namespace mpay::admin
