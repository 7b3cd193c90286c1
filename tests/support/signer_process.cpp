#include "support/signer_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace mpay::test {

SignerProcess::SignerProcess(const DevAppliance& appliance) : appliance_(appliance) {
  const std::string binary = binDir() + "/mpay-signer";
  const std::string log = appliance.dir() + "/signer.log";
  pid_ = fork();
  if (pid_ == 0) {
    FILE* out = freopen(log.c_str(), "a", stderr);
    (void)out;
    // Sandboxed daemons run without LeakSanitizer: its exit-time check needs
    // ptrace, which their seccomp lists rightly forbid. In-process tests keep it.
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    execl(binary.c_str(), binary.c_str(), "--config", appliance.configPath().c_str(), nullptr);
    _exit(127);
  }
  // Ready when a platform_info call succeeds (a worker has the token open).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto client = gateway::SignerClient::connect(appliance.config().signer.socket, 2000);
    if (client.ok() && client->platformInfo().ok()) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("mpay-signer exited at start; see " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("mpay-signer did not become ready; see " + log);
}

SignerProcess::~SignerProcess() { stop(); }

int SignerProcess::stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

gateway::SignerClient SignerProcess::connect() const {
  auto client = gateway::SignerClient::connect(appliance_.config().signer.socket);
  if (!client) throw std::runtime_error(client.error().detail);
  return std::move(client).value();
}

}  // namespace mpay::test
