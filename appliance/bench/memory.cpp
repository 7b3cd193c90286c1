#include "bench/memory.h"

#include <filesystem>
#include <fstream>

namespace mpay::bench {

std::map<std::string, long> residentKib() {
  std::map<std::string, long> out{{"mpay-signer", 0}, {"mpay-gateway", 0}};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    std::string line, name;
    long kib = 0;
    while (std::getline(status, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("VmRSS:", 0) == 0) kib = std::stol(line.substr(6));
    }
    if (auto it = out.find(name); it != out.end()) it->second += kib;
  }
  return out;
}

long residentKibOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace mpay::bench
