#include "common/processes.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mpay {

std::vector<pid_t> childProcesses(pid_t parent, const std::string& binary) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) continue;
    // pid (comm) state ppid ...
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    char state = 0;
    pid_t ppid = -1;
    fields >> state >> ppid;
    if (ppid != parent) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    if (binary.empty() || std::filesystem::path(argv0).filename() == binary)
      found.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return found;
}

std::vector<ApplianceProcess> applianceProcesses(pid_t mpayd) {
  std::vector<ApplianceProcess> out;
  for (pid_t p : childProcesses(mpayd, "mpay-signer")) {
    out.push_back({"signer-parent", p});
    for (pid_t w : childProcesses(p)) out.push_back({"signer-worker", w});
  }
  for (pid_t p : childProcesses(mpayd, "mpay-gateway")) out.push_back({"gateway", p});
  for (pid_t p : childProcesses(mpayd, "mpay-acquirer-sim")) out.push_back({"acquirer-sim", p});
  return out;
}

}  // namespace mpay
