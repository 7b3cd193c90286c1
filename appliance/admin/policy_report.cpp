#include "admin/policy_report.h"

#include <algorithm>
#include <cstdlib>

#include "hsm/keygen.h"
#include "hsm/module.h"
#include "hsm/rotation.h"
#include "hsm/session.h"
#include "sandbox/policy_files.h"
#include "signer/operation_docs.h"
#include "signer/ops_policy.h"
#include "signer/signer_limits.h"
#include "suite/primitives.h"

namespace mpay::admin {
namespace {

std::string yesNo(bool v) { return v ? "yes" : "no"; }

std::string syscallTable(const sandbox::SyscallPolicy& p) {
  std::string out = "| system call | answer | why |\n|---|---|---|\n";
  for (const auto& r : p.allowed) {
    const std::string answer = r.refuse_errno ? "fails with " + r.refuse_name
                               : r.condition.empty() ? "allowed"
                                                     : "allowed only when `" + r.condition + "`";
    out += "| `" + r.name + "` | " + answer + " | " + r.reason + " |\n";
  }
  return out;
}

std::string fsTable(const sandbox::FsPolicy& p) {
  std::string out = "| access | path | why |\n|---|---|---|\n";
  for (const auto& r : p.rules)
    out += "| " + sandbox::accessName(r.access) + " | `" + r.path_expression + "` | " + r.reason + " |\n";
  return out;
}

const char* typeName(hsm::KeyKind kind) {
  switch (kind) {
    case hsm::KeyKind::kEcP256: return "ec-p256";
    case hsm::KeyKind::kAes256: return "aes-256";
    case hsm::KeyKind::kHmac256: return "hmac-256";
    case hsm::KeyKind::kGeneric256: return "generic-256";
  }
  return "?";
}

std::string mechanismList(const hsm::KeyTemplate& t) {
  std::string mechs;
  for (auto m : t.mechanisms) mechs += (mechs.empty() ? "" : ", ") + hsm::mechanismName(m);
  return mechs.empty() ? "none" : mechs;
}

std::string keyTable(const hsm::KeyPolicy& keys) {
  std::string out =
      "| object | label | type | token | private | modifiable | copyable | destroyable | sensitive | extractable | "
      "sign | derive | encrypt | decrypt | wrap | unwrap | mechanisms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [name, t] : keys.keys()) {
    out += "| " + name + " | " + t.label + " | " + typeName(t.kind) + " | " + yesNo(t.token) + " | " +
           yesNo(t.private_object) + " | " + yesNo(t.modifiable) + " | " + yesNo(t.copyable) + " | " +
           yesNo(t.destroyable) + " | " + yesNo(t.sensitive) + " | " + yesNo(t.extractable) + " | " + yesNo(t.sign) +
           " | " + yesNo(t.derive) + " | " + yesNo(t.encrypt) + " | " + yesNo(t.decrypt) + " | " + yesNo(t.wrap) +
           " | " + yesNo(t.unwrap) + " | " + mechanismList(t) + " |\n";
  }
  return out;
}

std::string grantTable(const signer::OpsPolicy& p) {
  std::string out = "| role | operation | rate | per user | why |\n|---|---|---|---|---|\n";
  for (const auto& g : p.grants)
    out += "| " + signer::roleNames(g.role) + " | `" + std::string(g.op->name) + "` | " + g.rate.text + " | " +
           (g.per_user.count ? g.per_user.text : "-") + " | " + g.reason + " |\n";
  return out;
}

// The per-user rules and what they add up to: how many guesses at one
// user's secret reach the check in a day, through any gateway, whatever the
// per-user budgets of signer.ops would let through.
std::string limitsTable(const signer::SignerLimits& l, const signer::OpsPolicy& ops) {
  auto perUserBudget = [&](std::string_view op) -> const signer::Budget* {
    for (const auto& g : ops.grants)
      if (g.op->name == op && g.per_user.count) return &g.per_user;
    return nullptr;
  };
  std::string out = "| secret | wrong tries that lock | lock, seconds | wrong tries a day | operation's per-user budget "
                    "in a lock window | guesses reaching the check per day (per appliance) |\n|---|---|---|---|---|---|\n";
  const struct {
    const char* name;
    std::uint32_t threshold, lock_s, daily;
    std::string_view op;
  } rows[] = {{"password", l.password_threshold, l.password_lock_s, l.password_daily, "open_login"},
              {"PIN", l.pin_threshold, l.pin_lock_s, l.pin_daily, "open_payment"}};
  for (const auto& r : rows) {
    const signer::Budget* budget = perUserBudget(r.op);
    const std::uint64_t budget_calls =
        budget ? std::uint64_t{budget->count} * r.lock_s / budget->seconds : std::uint64_t{0};
    const std::uint64_t per_window = budget ? std::min<std::uint64_t>(r.threshold, budget_calls) : r.threshold;
    const std::uint64_t per_day = std::min<std::uint64_t>(r.daily, per_window * 86400 / r.lock_s);
    out += std::string("| ") + r.name + " | " + std::to_string(r.threshold) + " | " + std::to_string(r.lock_s) + " | " +
           std::to_string(r.daily) + " | " +
           (budget ? std::to_string(budget_calls) + " (" + budget->text + ")" : std::string("none")) + " | " +
           std::to_string(per_day) + " |\n";
  }
  out += "\n| state | value |\n|---|---|\n";
  out += "| signed login timestamps accepted within, seconds | " + std::to_string(l.timestamp_window_s) + " |\n";
  out += "| users with recent wrong tries, at once | " + std::to_string(l.users) + " |\n";
  out += "| numbers held by the key of their first login | " + std::to_string(l.phones) + " |\n";
  out += "| login nonces remembered | " + std::to_string(l.login_nonces) + " |\n";
  out += "| sessions (highest payment counter each) | " + std::to_string(l.sessions) + " |\n";
  out += "| permits remembered (spent or not) | " + std::to_string(l.permits) + " |\n";
  out += "| other appliances' permits spent here, within a day | " + std::to_string(l.foreign_permits) + " |\n";
  out += "| audit checkpoint (signed head) at least every, records | " + std::to_string(l.audit_checkpoint_records) + " |\n";
  out += "| audit checkpoint within, seconds of any record | " + std::to_string(l.audit_checkpoint_seconds) + " |\n";
  return out;
}

struct LoadedPolicy {
  hsm::KeyPolicy keys;
  signer::OpsPolicy ops;
  signer::SignerLimits limits;
  sandbox::SyscallPolicy signer_syscalls, gateway_syscalls;
  sandbox::FsPolicy signer_fs, gateway_fs;
};

Result<LoadedPolicy> loadAll(const Config& c) {
  LoadedPolicy p;
  const std::string dir = c.policy_dir + "/";
  MPAY_ASSIGN_OR_RETURN(p.keys, hsm::KeyPolicy::load(dir + "keys"));
  MPAY_ASSIGN_OR_RETURN(p.ops, signer::OpsPolicy::load(dir + "signer.ops"));
  MPAY_ASSIGN_OR_RETURN(p.limits, signer::SignerLimits::load(dir + "signer.limits"));
  MPAY_ASSIGN_OR_RETURN(p.signer_syscalls, sandbox::SyscallPolicy::load(dir + "signer.syscalls"));
  MPAY_ASSIGN_OR_RETURN(p.gateway_syscalls, sandbox::SyscallPolicy::load(dir + "gateway.syscalls"));
  MPAY_ASSIGN_OR_RETURN(p.signer_fs, sandbox::FsPolicy::load(dir + "signer.fs", c));
  MPAY_ASSIGN_OR_RETURN(p.gateway_fs, sandbox::FsPolicy::load(dir + "gateway.fs", c));
  return p;
}

}  // namespace

Result<std::string> explainPolicy(const Config& config) {
  MPAY_ASSIGN_OR_RETURN(LoadedPolicy p, loadAll(config));
  std::string out = "# mpay policy report\n\nGenerated by `mpay-admin policy explain` from the files in `policy/` and the\n"
                    "signer's operation table, through the parsers the processes use at start.\n";
  out += "\n## mpay-signer\n\n### Operations it performs (the operation table)\n\n" + signer::renderOperationTable();
  out += "\n### Who may call which operation, and how often (policy/signer.ops; anything else is not_permitted)\n\n" +
         grantTable(p.ops);
  out += "\n### What it enforces for every user itself (policy/signer.limits; state in signer.state_file)\n\n" +
         limitsTable(p.limits, p.ops);
  out += "\n### System calls after start-up (policy/signer.syscalls; anything else kills the worker)\n\n" +
         syscallTable(p.signer_syscalls);
  out += "\n### Files it may open after start-up (policy/signer.fs)\n\n" + fsTable(p.signer_fs);
  out += "\n## mpay-gateway\n\n### System calls after start-up (policy/gateway.syscalls; anything else kills it)\n\n" +
         syscallTable(p.gateway_syscalls);
  out += "\n### Files it may open after start-up (policy/gateway.fs)\n\n" + fsTable(p.gateway_fs);
  out += "\n## Keys in the token (policy/keys)\n\n" + keyTable(p.keys);
  return out;
}

namespace {

// Every attribute policy/keys states, read back from one live object.
void compareObject(const hsm::Session& s, CK_OBJECT_HANDLE object, const hsm::KeyTemplate& t,
                   std::vector<std::string>& mismatches) {
  const std::pair<CK_ATTRIBUTE_TYPE, std::pair<const char*, bool>> flags[] = {
      {CKA_TOKEN, {"token", t.token}},
      {CKA_PRIVATE, {"private", t.private_object}},
      {CKA_MODIFIABLE, {"modifiable", t.modifiable}},
      {CKA_COPYABLE, {"copyable", t.copyable}},
      {CKA_DESTROYABLE, {"destroyable", t.destroyable}},
      {CKA_SENSITIVE, {"sensitive", t.sensitive}},
      {CKA_EXTRACTABLE, {"extractable", t.extractable}},
      {CKA_SIGN, {"sign", t.sign}},
      {CKA_DERIVE, {"derive", t.derive}},
      {CKA_DECRYPT, {"decrypt", t.decrypt}},
      {CKA_UNWRAP, {"unwrap", t.unwrap}}};
  for (const auto& [attribute, expected] : flags) {
    auto actual = s.attributeBool(object, attribute);
    if (!actual || actual.value() != expected.second)
      mismatches.push_back(t.name + ": " + expected.first + " is " + (actual ? yesNo(actual.value()) : "unreadable") +
                           " in the token, " + yesNo(expected.second) + " in policy/keys");
  }
  if (t.kind != hsm::KeyKind::kEcP256) {
    for (const auto& [attribute, label, expected] : {std::tuple{CKA_ENCRYPT, "encrypt", t.encrypt},
                                                     std::tuple{CKA_WRAP, "wrap", t.wrap}}) {
      auto actual = s.attributeBool(object, attribute);
      if (!actual || actual.value() != expected)
        mismatches.push_back(t.name + ": " + label + " is " + (actual ? yesNo(actual.value()) : "unreadable") +
                             " in the token, " + yesNo(expected) + " in policy/keys");
    }
  }
  const CK_ULONG expected_type = t.kind == hsm::KeyKind::kEcP256   ? CKK_EC
                                : t.kind == hsm::KeyKind::kAes256 ? CKK_AES
                                                                  : CKK_GENERIC_SECRET;
  if (auto type = s.attributeUlong(object, CKA_KEY_TYPE); !type || type.value() != expected_type)
    mismatches.push_back(t.name + ": key type differs between the token and policy/keys (" + typeName(t.kind) + ")");
  auto mechanisms = s.allowedMechanisms(object);
  if (!mechanisms || mechanisms.value() != t.mechanisms)
    mismatches.push_back(t.name + ": allowed mechanisms differ between the token and policy/keys (" + mechanismList(t) +
                         " in the file)");
}

// The objects that live inside one operation are made here, in a session,
// by the code the signer uses, read back and destroyed.
Status compareTransientObjects(const hsm::Session& s, const hsm::KeyPolicy& keys, std::vector<std::string>& mismatches) {
  MPAY_ASSIGN_OR_RETURN(hsm::KeyPairHandles user, hsm::generateKeyPair(s, keys.key("user")));
  hsm::ObjectGuard user_private(s, user.private_key), user_public(s, user.public_key);
  compareObject(s, user.private_key, keys.key("user"), mismatches);
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrap_once,
                        hsm::createSecretKey(s, keys.key("wrap-once"), Secret(32)));
  hsm::ObjectGuard wrap_guard(s, wrap_once);
  compareObject(s, wrap_once, keys.key("wrap-once"), mismatches);
  MPAY_ASSIGN_OR_RETURN(Bytes point_attribute, s.attributeBytes(user.public_key, CKA_EC_POINT));
  MPAY_ASSIGN_OR_RETURN(Bytes point, hsm::ecPointFromAttribute(point_attribute));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE service, s.findOne(CKO_PRIVATE_KEY, keys.key("service").label));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE secret, hsm::deriveEcdhSecret(s, service, point, keys.key("ecdh-secret")));
  hsm::ObjectGuard secret_guard(s, secret);
  compareObject(s, secret, keys.key("ecdh-secret"), mismatches);
  return {};
}

}  // namespace

namespace {

// What an operator compares between the appliances of one cluster: the
// SHA-256 of each EC key's public point, and each secret key's check value
// (CKA_CHECK_VALUE, which the token computes: an encryption or MAC of
// zeros, never the key).
std::string fingerprintOf(const hsm::Session& s, const hsm::KeyTemplate& t) {
  if (t.kind == hsm::KeyKind::kEcP256) {
    auto pub = s.findOne(CKO_PUBLIC_KEY, t.label);
    if (!pub) return std::string(kUnknownFingerprint) + " (no public key object: " + pub.error().detail + ")";
    auto attr = s.attributeBytes(pub.value(), CKA_EC_POINT);
    if (!attr) return std::string(kUnknownFingerprint) + " (CKA_EC_POINT unreadable: " + attr.error().detail + ")";
    auto point = hsm::ecPointFromAttribute(attr.value());
    if (!point) return std::string(kUnknownFingerprint) + " (CKA_EC_POINT does not parse)";
    return "public-point-sha256 " + hexEncode(suite::sha256(point.value()));
  }
  auto key = s.findOne(CKO_SECRET_KEY, t.label);
  if (!key) return std::string(kUnknownFingerprint) + " (not in the token)";
  auto kcv = s.attributeBytes(key.value(), CKA_CHECK_VALUE);
  if (!kcv || kcv->empty())
    return std::string(kUnknownFingerprint) + " (the token keeps no CKA_CHECK_VALUE: compare with the HSM's own tools)";
  return "check-value " + hexEncode(kcv.value());
}

}  // namespace

Result<std::vector<std::string>> checkPolicy(const Config& config, std::vector<std::string>* fingerprints) {
  MPAY_ASSIGN_OR_RETURN(LoadedPolicy p, loadAll(config));
  if (!config.hsm.softhsm2_conf.empty()) setenv("SOFTHSM2_CONF", config.hsm.softhsm2_conf.c_str(), 1);
  MPAY_ASSIGN_OR_RETURN(Secret pin, hsm::readPinFile(config.hsm.pin_file));
  MPAY_ASSIGN_OR_RETURN(auto module, hsm::Module::load(config.hsm.module));
  MPAY_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->findSlot(config.hsm.token_uri));
  MPAY_ASSIGN_OR_RETURN(hsm::Session s, hsm::Session::open(module->fn(), slot));
  MPAY_RETURN_IF_ERROR(s.loginUser(pin));
  std::vector<std::string> mismatches;
  // Every generation a rotation keeps on the token is held to the same policy.
  MPAY_ASSIGN_OR_RETURN(hsm::RotationState rotation, hsm::readRotationState(s));
  for (const auto& name : hsm::KeyPolicy::platformKeyNames()) {
    const auto& rotating = hsm::RotationState::kinds();
    const std::vector<std::uint32_t> generations = std::find(rotating.begin(), rotating.end(), name) != rotating.end()
                                                       ? rotation.of(name).onToken()
                                                       : std::vector<std::uint32_t>{1};
    for (std::uint32_t g : generations) {
      const auto t = p.keys.generation(name, g);
      const std::string shown = g == 1 ? name : name + " generation " + std::to_string(g);
      auto key = s.findOne(hsm::keyClass(t), t.label);
      if (!key) {
        mismatches.push_back(shown + ": not in the token (" + key.error().detail + ")");
        continue;
      }
      compareObject(s, key.value(), t, mismatches);
      if (fingerprints) fingerprints->push_back(shown + " " + fingerprintOf(s, t));
    }
  }
  if (auto transient = compareTransientObjects(s, hsm::currentPolicy(p.keys, rotation), mismatches); !transient.ok())
    mismatches.push_back("session objects could not be made to compare: " + transient.error().detail);
  return mismatches;
}

}  // namespace mpay::admin
