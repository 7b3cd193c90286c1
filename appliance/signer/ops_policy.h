// policy/signer.ops: which caller role may invoke which signer operation,
// and how often. One grant a line:
//
//   <role> <operation> rate=N/UNIT [per_user=N/UNIT]   # why
//
//   role       gateway | admin
//   operation  a name from the operation table (docs/protocol.md)
//   rate       budget of the operation for all callers of that role together
//   per_user   budget per user (the user's certificate), for operations that
//              carry one: a compromised gateway cannot guess one user's
//              password or PIN faster than this
//   UNIT       s | min | h
//
// Strict: an unknown word, role or operation, a grant the operation table
// does not allow for that role, a duplicate, a missing rate, or an empty
// list stops the signer at start with file and line. Anything not granted
// is refused with not_permitted; a spent budget with rate_limited.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "signer/operations.h"

namespace mpay::signer {

struct Budget {
  std::uint32_t count = 0;    // calls allowed per period (and the burst); 0: no budget
  std::uint32_t seconds = 0;  // the period
  std::string text;           // as written, e.g. "10/min"
};

struct OpsGrant {
  Role role = kRoleGateway;
  const Operation* op = nullptr;
  Budget rate;
  Budget per_user;
  std::string reason;
};

struct OpsPolicy {
  std::string file;
  std::vector<OpsGrant> grants;

  static Result<OpsPolicy> load(const std::string& path);
  static Result<OpsPolicy> parse(const std::string& text, const std::string& file);
  // The grant for `op` to one of `roles` (gateway first), or -1.
  int find(std::uint8_t roles, const Operation& op) const;
};

}  // namespace mpay::signer
