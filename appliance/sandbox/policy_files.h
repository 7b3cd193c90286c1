// The sandbox policy files in policy/, parsed strictly: one rule a line,
// "#" starts a comment (the reason), an unknown word is an error naming file
// and line, and an allow-list with no entry is an error (empty never means
// "allow everything").
//
//   <process>.syscalls   allow <syscall-name> [argN=VALUE]    # why
//                        errno <ERRNO> <syscall-name>          # why
//       VALUE: a number, or AF_UNIX / AF_INET / AF_INET6; the call is allowed
//       only when argument N (0..5) equals it. An errno rule makes the call
//       fail with that error (ENOSYS, EACCES or EPERM) instead of killing
//       the process: for calls a library tries and copes without.
//   <process>.fs         <access> <path>                      # why
//       access: read | write | readwrite | create
//       path:   an absolute path, or ${section.key} (a path from the config),
//               or ${dir:section.key} (the directory holding that path)
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace mpay::sandbox {

struct SyscallRule {
  std::string name;
  int number = -1;  // resolved by libseccomp for this architecture
  int arg_index = -1;  // -1: any arguments; else argument arg_index must equal arg_value
  std::uint64_t arg_value = 0;
  std::string condition;  // as written, e.g. "arg0=AF_UNIX"
  int refuse_errno = 0;   // 0: allowed; else the call fails with this errno
  std::string refuse_name;  // as written, e.g. "ENOSYS"
  std::string reason;
};

struct SyscallPolicy {
  std::string file;
  std::vector<SyscallRule> allowed;
  static Result<SyscallPolicy> load(const std::string& path);
  static Result<SyscallPolicy> parse(const std::string& text, const std::string& file);
  // Adds the overlay's rules (a test build's sanitizer runtime); a call
  // both files name keeps this policy's rule.
  void merge(const SyscallPolicy& overlay);
};

enum class FsAccess { kRead, kWrite, kReadWrite, kCreate };

struct FsRule {
  FsAccess access = FsAccess::kRead;
  std::string path_expression;  // as written
  std::string path;             // resolved against the config
  std::string reason;
};

struct FsPolicy {
  std::string file;
  std::vector<FsRule> rules;
  static Result<FsPolicy> load(const std::string& path, const Config& config);
  static Result<FsPolicy> parse(const std::string& text, const std::string& file, const Config& config);
};

std::string accessName(FsAccess access);

// SHA-256 (hex) of the named policy files, concatenated in order, for the audit log.
Result<std::string> policyDigest(const std::vector<std::string>& paths);

}  // namespace mpay::sandbox
