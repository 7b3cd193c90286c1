// Process identities. Started as root, mpayd runs the signer as
// `signer.user` and the gateway as `gateway.user`: each child drops every
// capability (bounding set included), takes the account's uid and groups for
// good and sets no_new_privs before it executes the binary. Started as
// anyone else, everything runs as that user (single-user development mode).
#pragma once
#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace mpay {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // primary group
};

Result<Account> lookupAccount(const std::string& name);

// Irreversible: supplementary groups, gid, uid (real, effective, saved),
// empty capability sets, no_new_privs. Only root may call it.
Status becomeAccount(const Account& account);

// True when this process runs as the configured service account, i.e. the
// appliance runs with separated users (under mpayd as root, or systemd).
bool runsAs(const std::string& account_name);

// One log fragment: uid, gid, effective and bounding capabilities, no_new_privs.
std::string describeIdentity();

// No core dump, ever, from a process that holds secrets: RLIMIT_CORE 0 and
// not dumpable (which also keeps other processes of the same user from
// ptrace and from reading its memory through /proc). Call it after any
// change of identity: a change of credentials resets the dumpable flag.
Status forbidCoreDumps();

}  // namespace mpay
