#include "common/identity.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mpay {
namespace {

// capget(2) has no glibc wrapper; libcap is not a dependency for two calls.
bool effectiveCapabilities(std::uint64_t* effective, std::uint64_t* permitted) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  *effective = data[0].effective | (static_cast<std::uint64_t>(data[1].effective) << 32);
  *permitted = data[0].permitted | (static_cast<std::uint64_t>(data[1].permitted) << 32);
  return true;
}

int lastCapability() {
  for (int cap = 63; cap >= 0; --cap)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0) return cap;
  return CAP_LAST_CAP;
}

std::uint64_t boundingSet() {
  std::uint64_t set = 0;
  for (int cap = 0; cap <= lastCapability(); ++cap)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) set |= std::uint64_t{1} << cap;
  return set;
}

std::string hex(std::uint64_t v) {
  char buf[19];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Result<Account> lookupAccount(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || !found)
    return fail(ErrorCode::kConfig, "no such user: " + name + " (scripts/create-users or the package's sysusers.d creates it)");
  return Account{name, found->pw_uid, found->pw_gid};
}

Status becomeAccount(const Account& account) {
  if (geteuid() != 0) return fail(ErrorCode::kInternal, "only root can change to user " + account.name);
  if (account.uid == 0) return fail(ErrorCode::kConfig, "service user " + account.name + " must not be root");
  // The bounding set first: dropping it needs CAP_SETPCAP, which goes with root.
  for (int cap = 0; cap <= lastCapability(); ++cap)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return fail(ErrorCode::kInternal, "PR_CAPBSET_DROP " + std::to_string(cap) + ": " + std::strerror(errno));
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return fail(ErrorCode::kInternal, std::string("PR_CAP_AMBIENT_CLEAR_ALL: ") + std::strerror(errno));
  if (initgroups(account.name.c_str(), account.gid) != 0 ||
      setresgid(account.gid, account.gid, account.gid) != 0 ||
      setresuid(account.uid, account.uid, account.uid) != 0)
    return fail(ErrorCode::kInternal, "cannot become " + account.name + ": " + std::strerror(errno));
  // A uid change from 0 clears the permitted and effective sets; make sure.
  std::uint64_t effective = 0, permitted = 0;
  if (!effectiveCapabilities(&effective, &permitted) || effective != 0 || permitted != 0 || setuid(0) == 0)
    return fail(ErrorCode::kInternal, "capabilities still held after becoming " + account.name);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return fail(ErrorCode::kInternal, std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno));
  return {};
}

bool runsAs(const std::string& account_name) {
  auto account = lookupAccount(account_name);
  return account.ok() && account->uid == getuid() && account->uid == geteuid();
}

std::string describeIdentity() {
  std::uint64_t effective = 0, permitted = 0;
  const bool known = effectiveCapabilities(&effective, &permitted);
  return "uid=" + std::to_string(getuid()) + " gid=" + std::to_string(getgid()) +
         " cap_eff=" + (known ? hex(effective) : "unknown") + " cap_bnd=" + hex(boundingSet()) +
         " no_new_privs=" + std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

Status forbidCoreDumps() {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return fail(ErrorCode::kConfig, "cannot set RLIMIT_CORE to 0");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail(ErrorCode::kConfig, "cannot clear the dumpable flag");
  return {};
}

}  // namespace mpay
