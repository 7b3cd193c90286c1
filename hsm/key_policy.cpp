#include "hsm/key_policy.h"

#include <fstream>
#include <set>
#include <sstream>

namespace mpay::hsm {
namespace {

const std::map<std::string, CK_MECHANISM_TYPE>& mechanismsByName() {
  static const std::map<std::string, CK_MECHANISM_TYPE> m = {
      {"CKM_ECDH1_DERIVE", CKM_ECDH1_DERIVE}, {"CKM_ECDSA", CKM_ECDSA},
      {"CKM_AES_GCM", CKM_AES_GCM},           {"CKM_SHA256_HMAC", CKM_SHA256_HMAC},
      {"CKM_AES_KEY_WRAP", CKM_AES_KEY_WRAP}, {"CKM_AES_KEY_WRAP_PAD", CKM_AES_KEY_WRAP_PAD},
  };
  return m;
}

const std::set<std::string>& knownKeys() {
  static const std::set<std::string> k = {"service", "ca",   "receipt",   "kek",        "verifier",
                                          "permit",  "audit", "user", "wrap-once", "ecdh-secret"};
  return k;
}

const std::set<std::string>& requiredAttributes() {
  static const std::set<std::string> a = {"label",  "type",    "token",   "private", "modifiable",
                                          "copyable", "destroyable", "sensitive", "extractable", "sign",
                                          "derive", "encrypt", "decrypt", "wrap",    "unwrap",  "mechanisms"};
  return a;
}

Error policyError(const std::string& where, const std::string& what) {
  return fail(ErrorCode::kPolicy, where + ": " + what);
}

Result<bool> parseBool(const std::string& value, const std::string& where) {
  if (value == "true") return true;
  if (value == "false") return false;
  return policyError(where, "expected true or false, got '" + value + "'");
}

Status applyAttribute(KeyTemplate& t, const std::string& attr, const std::vector<std::string>& values,
                      const std::string& where) {
  if (attr == "mechanisms") {
    if (values.empty()) return policyError(where, "empty mechanism list (write 'none' for an object no operation uses)");
    if (values.front() == "none") {
      if (values.size() != 1) return policyError(where, "'none' stands alone");
      return {};
    }
    for (const auto& v : values) {
      auto it = mechanismsByName().find(v);
      if (it == mechanismsByName().end()) return policyError(where, "unknown mechanism '" + v + "'");
      t.mechanisms.push_back(it->second);
    }
    return {};
  }
  if (values.size() != 1) return policyError(where, "attribute '" + attr + "' takes exactly one value");
  const std::string& v = values.front();
  if (attr == "label") {
    t.label = v;
    return {};
  }
  if (attr == "type") {
    if (v == "ec-p256") t.kind = KeyKind::kEcP256;
    else if (v == "aes-256") t.kind = KeyKind::kAes256;
    else if (v == "hmac-256") t.kind = KeyKind::kHmac256;
    else if (v == "generic-256") t.kind = KeyKind::kGeneric256;
    else return policyError(where, "unknown key type '" + v + "'");
    return {};
  }
  std::map<std::string, bool*> flags = {
      {"token", &t.token},     {"private", &t.private_object}, {"modifiable", &t.modifiable},
      {"copyable", &t.copyable}, {"destroyable", &t.destroyable},
      {"sensitive", &t.sensitive}, {"extractable", &t.extractable},
      {"sign", &t.sign},       {"derive", &t.derive},       {"encrypt", &t.encrypt},
      {"decrypt", &t.decrypt}, {"wrap", &t.wrap},           {"unwrap", &t.unwrap}};
  auto it = flags.find(attr);
  if (it == flags.end()) return policyError(where, "unknown attribute '" + attr + "'");
  MPAY_ASSIGN_OR_RETURN(*it->second, parseBool(v, where));
  return {};
}

// Invariants the file cannot relax.
Status checkInvariants(const KeyTemplate& t, const std::string& file) {
  const std::string where = file + ": key '" + t.name + "'";
  if (!t.private_object) return policyError(where, "every object is private (login needed)");
  if ((t.name == "user" || t.name == "wrap-once") && t.modifiable)
    return policyError(where, "the user key and the one-time wrapping key are not modifiable");
  if (t.name == "user") {
    if (t.token || !t.sensitive || t.kind != KeyKind::kEcP256 || t.copyable || t.sign || t.derive)
      return policyError(where, "user keys must be sensitive P-256 session objects, not copyable, that sign and derive nothing");
    return {};
  }
  if (t.name == "wrap-once") {
    if (t.token || t.extractable || t.kind != KeyKind::kAes256 || !t.wrap || t.copyable)
      return policyError(where, "the one-time wrapping key must be a non-extractable, non-copyable AES session key that wraps");
    return {};
  }
  if (t.name == "ecdh-secret") {
    if (t.token || t.kind != KeyKind::kGeneric256 || t.copyable || t.sign || t.derive || t.encrypt || t.decrypt ||
        t.wrap || t.unwrap || !t.destroyable)
      return policyError(where, "the ECDH output must be a destroyable session object that nothing can use or copy");
    return {};
  }
  if (!t.token || !t.sensitive || t.extractable)
    return policyError(where, "platform keys must be token objects, sensitive and never extractable");
  return {};
}

}  // namespace

const std::vector<std::string>& KeyPolicy::platformKeyNames() {
  static const std::vector<std::string> n = {"service", "ca", "receipt", "kek", "verifier", "permit", "audit"};
  return n;
}

const std::vector<std::string>& KeyPolicy::transientObjectNames() {
  static const std::vector<std::string> n = {"user", "wrap-once", "ecdh-secret"};
  return n;
}

std::string mechanismName(CK_MECHANISM_TYPE m) {
  for (const auto& [name, value] : mechanismsByName())
    if (value == m) return name;
  return "CKM_unknown";
}

Result<KeyPolicy> KeyPolicy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kPolicy, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

Result<KeyPolicy> KeyPolicy::parse(const std::string& text, const std::string& filename) {
  KeyPolicy policy;
  std::map<std::string, std::set<std::string>> seen;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::string where = filename + ":" + std::to_string(number);
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string key, attr, word;
    std::vector<std::string> values;
    if (!(words >> key)) continue;  // blank or comment-only line
    if (!(words >> attr)) return policyError(where, "expected '<key> <attribute> <value>'");
    while (words >> word) values.push_back(word);
    if (!knownKeys().contains(key)) return policyError(where, "unknown key '" + key + "'");
    if (!seen[key].insert(attr).second) return policyError(where, "duplicate attribute '" + attr + "'");
    KeyTemplate& t = policy.keys_[key];
    t.name = key;
    MPAY_RETURN_IF_ERROR(applyAttribute(t, attr, values, where));
  }
  for (const auto& name : knownKeys()) {
    if (!seen.contains(name)) return policyError(filename, "key '" + name + "' is not declared");
    for (const auto& attr : requiredAttributes())
      if (!seen[name].contains(attr))
        return policyError(filename, "key '" + name + "' lacks attribute '" + attr + "'");
    MPAY_RETURN_IF_ERROR(checkInvariants(policy.keys_[name], filename));
    policy.base_labels_[name] = policy.keys_[name].label;
  }
  return policy;
}

std::string generationLabel(const std::string& base, std::uint32_t g) {
  return g <= 1 ? base : base + "." + std::to_string(g);
}

KeyTemplate KeyPolicy::generation(const std::string& name, std::uint32_t g) const {
  KeyTemplate t = keys_.at(name);
  t.label = generationLabel(base_labels_.at(name), g);
  return t;
}

KeyPolicy KeyPolicy::withGeneration(const std::string& name, std::uint32_t g) const {
  KeyPolicy out = *this;
  out.keys_[name] = generation(name, g);
  return out;
}

}  // namespace mpay::hsm
