// The self-applied sandbox: after initialisation each process sets
// no_new_privs, restricts its filesystem view with Landlock (policy/*.fs)
// and then its system calls with seccomp (policy/*.syscalls; anything else
// kills the process). If any step fails the process must not start.
#pragma once
#include "common/result.h"
#include "sandbox/policy_files.h"

namespace mpay::sandbox {

struct Policy {
  FsPolicy fs;
  SyscallPolicy syscalls;
  std::string digest;  // SHA-256 of the policy files, for the audit log
};

// Loads policy/<process>.fs and policy/<process>.syscalls from the config's policy_dir.
Result<Policy> loadPolicy(const Config& config, const std::string& process);

// Landlock then seccomp, in this thread and (seccomp, TSYNC) all threads.
Status apply(const Policy& policy);

}  // namespace mpay::sandbox
