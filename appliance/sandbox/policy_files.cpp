#include "sandbox/policy_files.h"

#include <seccomp.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/policy_text.h"
#include "suite/primitives.h"

namespace mpay::sandbox {
namespace {

// The passfile= parameter of a postgresql:// URL ("" without one).
std::string passfileOf(const std::string& db_url) {
  if (db_url.rfind("postgres", 0) != 0) return "";
  const auto query = db_url.find('?');
  if (query == std::string::npos) return "";
  std::string params = db_url.substr(query + 1);
  for (std::size_t at = 0; at <= params.size();) {
    const auto end = std::min(params.find('&', at), params.size());
    const std::string param = params.substr(at, end - at);
    if (param.rfind("passfile=", 0) == 0) return param.substr(9);
    at = end + 1;
  }
  return "";
}

// Config keys a path rule may name.
Result<std::string> configPath(const Config& c, const std::string& key) {
  // libpq reads the password file at every new connection, after the sandbox.
  if (key == "gateway.db_passfile") {
    const std::string passfile = passfileOf(c.gateway.db_url);
    if (!passfile.empty() && (passfile.front() != '/' || passfile.back() == '/'))
      return fail(ErrorCode::kPolicy, "passfile= in gateway.db_url must be an absolute path to a file");
    return passfile;
  }
  const std::map<std::string, std::string> paths = {
      {"paths.public_dir", c.public_dir},         {"paths.policy_dir", c.policy_dir},
      {"hsm.module", c.hsm.module},               {"hsm.pin_file", c.hsm.pin_file},
      {"hsm.softhsm2_conf", c.hsm.softhsm2_conf}, {"hsm.token_dir", c.hsm.token_dir},
      {"signer.socket", c.signer.socket},
      {"signer.audit_log", c.signer.audit_log},   {"signer.checkpoint_file", c.signer.checkpoint_file},   {"gateway.db_url", c.gateway.db_url},
      {"gateway.outbox", c.gateway.outbox},       {"gateway.tls_cert", c.gateway.tls_cert},
      {"gateway.tls_key", c.gateway.tls_key},     {"gateway.webhook_secret_file", c.gateway.webhook_secret_file},
  };
  auto it = paths.find(key);
  if (it == paths.end()) return fail(ErrorCode::kPolicy, "unknown config key '" + key + "'");
  // A database URL is not a file: no filesystem rule for it.
  if (it->second.rfind("postgres", 0) == 0) return std::string();
  return it->second;
}

}  // namespace

Result<SyscallPolicy> SyscallPolicy::load(const std::string& path) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(path));
  return parse(text, path);
}

Result<SyscallPolicy> SyscallPolicy::parse(const std::string& text, const std::string& file) {
  SyscallPolicy policy;
  policy.file = file;
  std::set<std::string> seen;
  for (const auto& line : policyLines(text)) {
    const std::string where = file + ":" + std::to_string(line.number);
    std::string name;
    SyscallRule rule;
    if (line.words[0] == "errno") {
      static const std::map<std::string, int> kErrnos = {{"ENOSYS", ENOSYS}, {"EACCES", EACCES}, {"EPERM", EPERM}};
      if (line.words.size() != 3) return policyError(where, "expected 'errno <ENOSYS|EACCES|EPERM> <syscall>'");
      auto e = kErrnos.find(line.words[1]);
      if (e == kErrnos.end()) return policyError(where, "unknown errno '" + line.words[1] + "'");
      rule.refuse_errno = e->second;
      rule.refuse_name = e->first;
      name = line.words[2];
    } else if (line.words[0] == "allow") {
      if (line.words.size() != 2 && line.words.size() != 3)
        return policyError(where, "expected 'allow <syscall> [argN=VALUE]'");
      name = line.words[1];
    } else {
      return policyError(where, "unknown directive '" + line.words[0] + "' (expected 'allow' or 'errno')");
    }
    const int number = seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) return policyError(where, "unknown system call '" + name + "'");
    if (!seen.insert(name).second) return policyError(where, "duplicate system call '" + name + "'");
    rule.name = name;
    rule.number = number;
    rule.reason = line.reason;
    if (line.words[0] == "allow" && line.words.size() == 3) {
      const std::string& cond = line.words[2];
      static const std::map<std::string, std::uint64_t> kConstants = {
          {"AF_UNIX", 1}, {"AF_INET", 2}, {"AF_INET6", 10}};
      if (cond.size() < 6 || cond.rfind("arg", 0) != 0 || cond[3] < '0' || cond[3] > '5' || cond[4] != '=')
        return policyError(where, "unknown condition '" + cond + "' (expected argN=VALUE)");
      const std::string value = cond.substr(5);
      if (auto c = kConstants.find(value); c != kConstants.end()) {
        rule.arg_value = c->second;
      } else if (value.find_first_not_of("0123456789") == std::string::npos) {
        rule.arg_value = std::stoull(value);
      } else {
        return policyError(where, "unknown value '" + value + "'");
      }
      rule.arg_index = cond[3] - '0';
      rule.condition = cond;
    }
    policy.allowed.push_back(rule);
  }
  if (policy.allowed.empty()) return policyError(file, "empty allow-list: a process with no system calls cannot run");
  return policy;
}

void SyscallPolicy::merge(const SyscallPolicy& overlay) {
  for (const auto& rule : overlay.allowed) {
    const bool present = std::any_of(allowed.begin(), allowed.end(), [&](const SyscallRule& r) { return r.name == rule.name; });
    if (!present) allowed.push_back(rule);
  }
}

std::string accessName(FsAccess access) {
  switch (access) {
    case FsAccess::kRead: return "read";
    case FsAccess::kWrite: return "write";
    case FsAccess::kReadWrite: return "readwrite";
    case FsAccess::kCreate: return "create";
  }
  return "?";
}

Result<FsPolicy> FsPolicy::load(const std::string& path, const Config& config) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(path));
  return parse(text, path, config);
}

Result<FsPolicy> FsPolicy::parse(const std::string& text, const std::string& file, const Config& config) {
  FsPolicy policy;
  policy.file = file;
  std::set<std::string> seen;
  for (const auto& line : policyLines(text)) {
    const std::string where = file + ":" + std::to_string(line.number);
    if (line.words.size() != 2) return policyError(where, "expected '<access> <path>'");
    FsRule rule;
    const std::string& access = line.words[0];
    if (access == "read") rule.access = FsAccess::kRead;
    else if (access == "write") rule.access = FsAccess::kWrite;
    else if (access == "readwrite") rule.access = FsAccess::kReadWrite;
    else if (access == "create") rule.access = FsAccess::kCreate;
    else return policyError(where, "unknown access '" + access + "'");
    rule.path_expression = line.words[1];
    rule.reason = line.reason;
    if (!seen.insert(rule.path_expression).second) return policyError(where, "duplicate path '" + rule.path_expression + "'");
    const std::string& expr = rule.path_expression;
    if (expr.rfind("${", 0) == 0 && expr.back() == '}') {
      std::string key = expr.substr(2, expr.size() - 3);
      const bool dir = key.rfind("dir:", 0) == 0;
      if (dir) key = key.substr(4);
      auto path = configPath(config, key);
      if (!path) return policyError(where, path.error().detail);
      rule.path = path.value();
      if (dir) rule.path = rule.path.substr(0, rule.path.rfind('/'));
      if (rule.path.empty()) continue;  // optional key not set in this config: no rule needed
    } else if (expr.front() == '/') {
      rule.path = expr;
    } else {
      return policyError(where, "path must be absolute or ${section.key}");
    }
    policy.rules.push_back(rule);
  }
  if (policy.rules.empty()) return policyError(file, "empty rule list: the process could open no file");
  return policy;
}

Result<std::string> policyDigest(const std::vector<std::string>& paths) {
  std::string all;
  for (const auto& p : paths) {
    MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(p));
    all += "== " + p.substr(p.rfind('/') + 1) + "\n" + text;
  }
  return hexEncode(suite::sha256(asBytes(all)));
}

}  // namespace mpay::sandbox
