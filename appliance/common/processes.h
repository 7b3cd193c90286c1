// The processes under another, from /proc: what mpay-bench --chaos kills,
// and what the tests look at.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace mpay {

// The children of `parent` whose program (argv[0]'s file name) is `binary`, or all when empty.
std::vector<pid_t> childProcesses(pid_t parent, const std::string& binary = "");

// mpayd's children by role: "signer-parent", "signer-worker" (the parent's
// children), "gateway", "acquirer-sim".
struct ApplianceProcess {
  std::string role;
  pid_t pid = 0;
};
std::vector<ApplianceProcess> applianceProcesses(pid_t mpayd);

}  // namespace mpay
