#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

namespace mpay::sandbox {
namespace {

constexpr __u64 kFileRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE;
constexpr __u64 kTruncate = 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE (ABI 3)
constexpr __u64 kRefer = 1ULL << 13;     // LANDLOCK_ACCESS_FS_REFER (ABI 2)
// ABI 6 (Linux 6.12) scopes: no connecting to abstract UNIX sockets made
// outside this sandbox, no signals to processes outside it. Debian 12's
// headers predate the field, hence the local layout.
constexpr __u64 kScopeAbstractUnixSocket = 1ULL << 0;
constexpr __u64 kScopeSignal = 1ULL << 1;
struct RulesetAttrV6 {
  __u64 handled_access_fs;
  __u64 handled_access_net;
  __u64 scoped;
};

__u64 handledRights(int abi) {
  __u64 rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                 LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  return rights;
}

__u64 rightsFor(FsAccess access) {
  const __u64 read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
  const __u64 write = LANDLOCK_ACCESS_FS_WRITE_FILE | kTruncate;
  switch (access) {
    case FsAccess::kRead: return read;
    case FsAccess::kWrite: return write;
    case FsAccess::kReadWrite: return read | write;
    case FsAccess::kCreate:  // files appear and disappear here (SQLite journals, the outbox)
      return read | write | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
  }
  return 0;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error sandboxError(const std::string& what) {
  return fail(ErrorCode::kPolicy, "sandbox: " + what + ": " + std::strerror(errno));
}

Status applyLandlock(const FsPolicy& policy) {
  const int abi = static_cast<int>(syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION));
  if (abi < 1) return sandboxError("Landlock is not available in this kernel");
  RulesetAttrV6 attr{};
  attr.handled_access_fs = handledRights(abi);
  if (abi >= 6) attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
  const std::size_t attr_size = abi >= 6 ? sizeof attr : sizeof(landlock_ruleset_attr);
  Fd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0)));
  if (ruleset.get() < 0) return sandboxError("landlock_create_ruleset");
  for (const auto& rule : policy.rules) {
    Fd path(open(rule.path.c_str(), O_PATH | O_CLOEXEC));
    // A fixed path this machine lacks (say /etc/gai.conf) needs no rule:
    // nothing is there to open. Paths from the configuration must exist.
    if (path.get() < 0 && errno == ENOENT && rule.path_expression.front() == '/') continue;
    if (path.get() < 0) return sandboxError(policy.file + ": cannot open " + rule.path);
    struct stat st{};
    if (fstat(path.get(), &st) != 0) return sandboxError("fstat " + rule.path);
    // A config key that names a file (say passfile= in gateway.db_url) must
    // not turn into a rule for a whole directory.
    static const std::set<std::string> kDirectoryKeys = {"${hsm.token_dir}", "${paths.public_dir}", "${paths.policy_dir}"};
    if (S_ISDIR(st.st_mode) && rule.path_expression.rfind("${", 0) == 0 &&
        rule.path_expression.find("dir:") == std::string::npos && !kDirectoryKeys.contains(rule.path_expression))
      return fail(ErrorCode::kPolicy, "sandbox: " + policy.file + ": " + rule.path_expression + " names a directory (" +
                                          rule.path + "), not a file");
    __u64 rights = rightsFor(rule.access) & attr.handled_access_fs;
    if (!S_ISDIR(st.st_mode)) rights &= (kFileRights | kTruncate);  // directory rights do not apply to a file
    landlock_path_beneath_attr beneath{};
    beneath.allowed_access = rights;
    beneath.parent_fd = path.get();
    if (syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0)
      return sandboxError("landlock_add_rule " + rule.path);
  }
  if (syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) return sandboxError("landlock_restrict_self");
  return {};
}

Status applySeccomp(const SyscallPolicy& policy) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!ctx) return fail(ErrorCode::kPolicy, "sandbox: seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) return fail(ErrorCode::kPolicy, "sandbox: seccomp TSYNC");
  for (const auto& rule : policy.allowed) {
    // Spelled out rather than SCMP_CMP(), a C compound literal.
    scmp_arg_cmp equals{};
    equals.arg = static_cast<unsigned>(rule.arg_index);
    equals.op = SCMP_CMP_EQ;
    equals.datum_a = rule.arg_value;
    const std::uint32_t action = rule.refuse_errno ? SCMP_ACT_ERRNO(static_cast<std::uint32_t>(rule.refuse_errno))
                                                   : SCMP_ACT_ALLOW;
    const int rc = rule.arg_index < 0 ? seccomp_rule_add(ctx, action, rule.number, 0)
                                      : seccomp_rule_add_array(ctx, action, rule.number, 1, &equals);
    if (rc != 0) return fail(ErrorCode::kPolicy, "sandbox: seccomp rule for " + rule.name);
  }
  if (seccomp_load(ctx) != 0) return fail(ErrorCode::kPolicy, "sandbox: seccomp_load failed");
  return {};
}

}  // namespace

Result<Policy> loadPolicy(const Config& config, const std::string& process) {
  Policy p;
  const std::string fs_path = config.policy_dir + "/" + process + ".fs";
  const std::string sys_path = config.policy_dir + "/" + process + ".syscalls";
  MPAY_ASSIGN_OR_RETURN(p.fs, FsPolicy::load(fs_path, config));
  MPAY_ASSIGN_OR_RETURN(p.syscalls, SyscallPolicy::load(sys_path));
  std::vector<std::string> digested = {fs_path, sys_path};
#ifdef MPAY_SANITIZER_SYSCALLS
  // Sanitizer builds only: the runtime's own calls, from the source tree
  // (tests/sandbox/), never from an installed policy directory.
  const std::string overlay_path = std::string(MPAY_SANITIZER_SYSCALLS) + "/" + process + ".syscalls";
  MPAY_ASSIGN_OR_RETURN(SyscallPolicy overlay, SyscallPolicy::load(overlay_path));
  p.syscalls.merge(overlay);
  digested.push_back(overlay_path);
#endif
  MPAY_ASSIGN_OR_RETURN(p.digest, policyDigest(digested));
  return p;
}

Status apply(const Policy& policy) {
  // The last moment either can change: after the filter neither prctl nor
  // setrlimit is allowed. A process that could dump core does not start.
  rlimit core{};
  if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0)
    return fail(ErrorCode::kPolicy, "sandbox: RLIMIT_CORE is not 0 (core dumps would carry secrets)");
  if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
    return fail(ErrorCode::kPolicy, "sandbox: the process is dumpable (core dumps would carry secrets)");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sandboxError("no_new_privs");
  MPAY_RETURN_IF_ERROR(applyLandlock(policy.fs));
  return applySeccomp(policy.syscalls);
}

}  // namespace mpay::sandbox
