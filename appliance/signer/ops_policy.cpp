#include "signer/ops_policy.h"


#include "common/policy_text.h"

namespace mpay::signer {
namespace {

Result<Budget> parseBudget(const std::string& where, const std::string& text) {
  const auto slash = text.find('/');
  const std::string count = text.substr(0, slash);
  const std::string unit = slash == std::string::npos ? "" : text.substr(slash + 1);
  Budget b;
  b.text = text;
  if (unit == "s") b.seconds = 1;
  else if (unit == "min") b.seconds = 60;
  else if (unit == "h") b.seconds = 3600;
  else return policyError(where, "budget '" + text + "' must be N/s, N/min or N/h");
  if (count.empty() || count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos)
    return policyError(where, "budget '" + text + "' must start with a number");
  b.count = static_cast<std::uint32_t>(std::stoul(count));
  if (b.count == 0) return policyError(where, "budget '" + text + "' allows nothing: leave the grant out instead");
  return b;
}

}  // namespace

Result<OpsPolicy> OpsPolicy::load(const std::string& path) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(path));
  return parse(text, path);
}

Result<OpsPolicy> OpsPolicy::parse(const std::string& text, const std::string& file) {
  OpsPolicy policy;
  policy.file = file;
  for (const auto& line : policyLines(text)) {
    const std::string where = file + ":" + std::to_string(line.number);
    if (line.words.size() < 3 || line.words.size() > 4)
      return policyError(where, "expected '<role> <operation> rate=N/UNIT [per_user=N/UNIT]'");
    OpsGrant grant;
    grant.reason = line.reason;
    if (line.words[0] == "gateway") grant.role = kRoleGateway;
    else if (line.words[0] == "admin") grant.role = kRoleAdmin;
    else return policyError(where, "unknown role '" + line.words[0] + "' (gateway or admin)");
    for (const auto& op : operations())
      if (op.name == line.words[1] && !(op.flags & kTestOnly)) grant.op = &op;
    if (!grant.op) return policyError(where, "unknown operation '" + line.words[1] + "'");
    if (!(grant.op->roles & grant.role))
      return policyError(where, std::string(grant.op->name) + " may not be granted to " + line.words[0] +
                                    " (the operation table allows: " + roleNames(grant.op->roles) + ")");
    if (policy.find(grant.role, *grant.op) >= 0)
      return policyError(where, "duplicate grant of " + line.words[1] + " to " + line.words[0]);
    for (std::size_t i = 2; i < line.words.size(); ++i) {
      const std::string& word = line.words[i];
      const auto eq = word.find('=');
      const std::string key = word.substr(0, eq);
      if (eq == std::string::npos || (key != "rate" && key != "per_user"))
        return policyError(where, "unknown word '" + word + "' (rate=N/UNIT or per_user=N/UNIT)");
      Budget& slot = key == "rate" ? grant.rate : grant.per_user;
      if (slot.count) return policyError(where, "duplicate " + key);
      MPAY_ASSIGN_OR_RETURN(slot, parseBudget(where, word.substr(eq + 1)));
    }
    if (!grant.rate.count) return policyError(where, "every grant needs a rate=N/UNIT budget");
    if (grant.per_user.count && !grant.op->user_key)
      return policyError(where, std::string(grant.op->name) + " carries no user: per_user cannot apply");
    policy.grants.push_back(std::move(grant));
  }
  if (policy.grants.empty()) return policyError(file, "empty list: no role could call any operation");
  return policy;
}

int OpsPolicy::find(std::uint8_t roles, const Operation& op) const {
  for (Role role : {kRoleGateway, kRoleAdmin}) {
    if (!(roles & role)) continue;
    for (std::size_t i = 0; i < grants.size(); ++i)
      if (grants[i].role == role && grants[i].op == &op) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace mpay::signer
