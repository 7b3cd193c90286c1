// Test builds only (MPAY_TEST_HOOKS): what a sandboxed process reports about
// itself when a test asks it through its probe (the signer's test_probe
// operation, the gateway's /test/probe/ paths). Nothing here ships.
#pragma once
#include <cstdint>
#include <string>

namespace mpay::sandbox {

struct SelfReport {
  bool thread_started = false;   // a std::thread ran and was joined (clone with a thread's flags)
  int clone3_errno = 0;          // what clone3 answered (ENOSYS: glibc falls back to clone)
  int pid = 0;                   // for the test to read /proc/<pid>/limits and the owner of /proc/<pid>
};
SelfReport selfReport();

// fork(); returns only if the sandbox let it through (the child exits at once).
void tryFork();

// Connects a new AF_UNIX stream socket to `name` (an abstract name when it
// starts with '@'); returns 0 or the errno of socket() or connect().
int tryConnectUnix(const std::string& name);

}  // namespace mpay::sandbox
