// mpayd --config FILE: starts the signer, then (when configured) the
// acquirer simulator and the gateway, keeps them running, and stops them
// all on SIGTERM. Started as root, it hands the signer's and the gateway's
// files to their users and runs each child as its own user; started as
// anyone else, everything runs as that user. For development, CI and hosts
// without systemd; the appliance image runs the same binaries as systemd units.
#include <signal.h>
#include <unistd.h>

#include <Poco/Path.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <tuple>

#include "common/command_line.h"
#include "common/config.h"
#include "common/identity.h"
#include "common/ownership.h"
#include "common/log.h"
#include "common/supervisor.h"
#include "gateway/signer_client.h"

namespace mpay {
namespace {

constexpr char kUsage[] =
    "usage: mpayd --config FILE\n"
    "  Starts mpay-signer, then (when FILE enables them) mpay-acquirer-sim and mpay-gateway, restarts\n"
    "  a child that dies and stops them all on SIGTERM; as root, each child runs as its own user.\n"
    "  For development, CI and hosts without systemd; see mpayd(8).\n";

std::string siblingBinary(const std::string& name) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return name;
  self[n] = '\0';
  return Poco::Path(self).parent().toString() + name;
}

// `account` empty: the child keeps mpayd's identity (single-user mode).
SupervisedChild exec(const std::string& name, std::vector<std::string> args, std::optional<Account> account) {
  return {name, [name, args, account] {
            const pid_t parent = getpid();
            pid_t pid = fork();
            if (pid == 0) {
              if (account) {
                if (auto became = becomeAccount(*account); !became.ok()) {
                  log::error("event=identity_failed child=" + name + " detail=\"" + became.error().detail + "\"");
                  _exit(126);
                }
              }
              Supervisor::inChild(parent);
              const std::string binary = siblingBinary(name);
              std::vector<char*> argv{const_cast<char*>(binary.c_str())};
              for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
              argv.push_back(nullptr);
              execv(binary.c_str(), argv.data());
              // Typically a service user that cannot reach the build directory.
              log::error("event=exec_failed binary=" + binary + " uid=" + std::to_string(getuid()) +
                         " detail=\"" + std::strerror(errno) + "\"");
              _exit(127);
            }
            return pid;
          }};
}

// The gateway should find the signer answering when it starts.
void waitForSigner(const std::string& socket) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    // A stop request waiting meanwhile ends the wait: the supervisor acts on it next.
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)) return;
    auto client = gateway::SignerClient::connect(socket, 1000);
    if (client.ok() && client->platformInfo().ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  log::warn("event=signer_not_ready_yet");
}

// Both service accounts, with their files handed over to them.
Result<std::pair<Account, Account>> separatedUsers(const Config& config) {
  MPAY_ASSIGN_OR_RETURN(Account signer, lookupAccount(config.signer.user));
  MPAY_ASSIGN_OR_RETURN(Account gateway, lookupAccount(config.gateway.user));
  MPAY_RETURN_IF_ERROR(assignOwnership(config, signer, gateway));
  return std::pair{signer, gateway};
}

int run(int argc, char** argv) {
  log::setProcessName("mpayd");
  if (printHelpIfAsked(argc, argv, kUsage)) return 0;
  if (argc != 3 || std::string(argv[1]) != "--config")
    return usageError("mpayd", "--config FILE is required, and nothing else", kUsage);
  const std::string config_path = argv[2];
  auto config = Config::load(config_path);
  if (!config) {
    log::error("event=start_failed detail=\"" + config.error().detail + "\"");
    return 78;
  }
  // Root runs nothing itself: each child becomes its service user.
  std::optional<Account> signer_account, gateway_account;
  if (geteuid() == 0) {
    auto accounts = separatedUsers(config.value());
    if (!accounts) {
      log::error("event=start_failed detail=\"" + accounts.error().detail + "\"");
      return 78;
    }
    std::tie(signer_account, gateway_account) = accounts.value();
    log::info("event=identity mode=separated signer=" + signer_account->name + " gateway=" + gateway_account->name);
  } else {
    log::info("event=identity mode=single-user detail=\"not started as root: every process runs as uid " +
              std::to_string(getuid()) + "\"");
  }
  std::vector<SupervisedChild> children;
  children.push_back(exec("mpay-signer", {"--config", config_path}, signer_account));
  if (config->acquirer_sim.enabled) {
    std::vector<std::string> args{"--port", std::to_string(config->acquirer_sim.port), "--signing-key",
                                  config->acquirer_sim.signing_key};
    if (config->acquirer_sim.limit_minor > 0) {
      args.push_back("--limit");
      args.push_back(std::to_string(config->acquirer_sim.limit_minor));
    }
    if (!config->acquirer_sim.ledger.empty()) {
      args.push_back("--ledger");
      args.push_back(config->acquirer_sim.ledger);
    }
    children.push_back(exec("mpay-acquirer-sim", args, gateway_account));
  }
  if (!config->gateway.db_url.empty()) children.push_back(exec("mpay-gateway", {"--config", config_path}, gateway_account));
  // Start the signer alone first so the gateway's first health check passes.
  auto signer_first = std::move(children.front());
  children.front() = {signer_first.name, [spawn = signer_first.spawn, socket = config->signer.socket] {
                        pid_t pid = spawn();
                        waitForSigner(socket);
                        return pid;
                      }};
  return Supervisor(std::move(children)).run();
}

}  // namespace
}  // namespace mpay

int main(int argc, char** argv) { return mpay::run(argc, argv); }
