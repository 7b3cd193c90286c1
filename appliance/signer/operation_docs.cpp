#include "signer/operation_docs.h"

#include <cstdio>

#include "common/error_code.h"
#include "signer/operations.h"

namespace mpay::signer {
namespace {

std::string flagNames(std::uint8_t flags) {
  std::string out;
  auto add = [&](std::uint8_t bit, const char* name) {
    if (!(flags & bit)) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  add(kOpensSecrets, "opens secrets");
  add(kNeedsSession, "needs session");
  add(kNeedsPermit, "needs permit");
  add(kUsesTokenKey, "uses token key");
  add(kAuditsItsRequest, "audits its request");
  add(kOncePerProcess, "once per calling process");
  return out.empty() ? "-" : out;
}

}  // namespace

std::string renderOperationTable() {
  std::string out =
      "| id | operation | may be granted to | flags | token keys | purpose |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& op : operations()) {
    if (op.flags & kTestOnly) continue;
    char id[8];
    std::snprintf(id, sizeof id, "0x%04x", static_cast<unsigned>(op.id));
    out += "| " + std::string(id) + " | `" + std::string(op.name) + "` | " + roleNames(op.roles) + " | " +
           flagNames(op.flags) + (op.user_key ? ", per-user budget" : "") + " | " + (op.keys.empty() ? "-" : std::string(op.keys)) + " | " +
           std::string(op.purpose) + " |\n";
  }
  return out;
}

std::string renderErrorCodes() {
  std::string out = "| code | name |\n|---|---|\n";
  for (int code = 0; code < 100; ++code) {
    auto name = errorName(static_cast<ErrorCode>(code));
    if (name == "unknown") continue;
    out += "| " + std::to_string(code) + " | `" + std::string(name) + "` |\n";
  }
  return out;
}

}  // namespace mpay::signer
