// Key templates from policy/keys: what every key mpay creates in the token
// looks like. One attribute a line: "<key> <attribute> <value>  # why".
// Parsing is strict: an unknown key, attribute, value or mechanism name, a
// duplicate line or a missing attribute is an error naming file and line.
// Some invariants are checked here and cannot be relaxed by editing the file:
// platform keys stay sensitive and non-extractable.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "hsm/pkcs11.h"

namespace mpay::hsm {

enum class KeyKind { kEcP256, kAes256, kHmac256, kGeneric256 };

struct KeyTemplate {
  std::string name;   // the policy's name for it: service, ca, receipt, kek, verifier, permit, user, wrap-once, ecdh-secret
  std::string label;  // CKA_LABEL
  KeyKind kind = KeyKind::kAes256;
  bool token = false, private_object = true, modifiable = false, copyable = false, destroyable = true;
  bool sensitive = true, extractable = false;
  bool sign = false, derive = false, encrypt = false, decrypt = false, wrap = false, unwrap = false;
  std::vector<CK_MECHANISM_TYPE> mechanisms;  // CKA_ALLOWED_MECHANISMS; empty: "none" (no operation uses it)
};

class KeyPolicy {
 public:
  static Result<KeyPolicy> load(const std::string& path);
  static Result<KeyPolicy> parse(const std::string& text, const std::string& filename);

  const KeyTemplate& key(const std::string& name) const { return keys_.at(name); }
  const std::map<std::string, KeyTemplate>& keys() const { return keys_; }
  // The long-term platform keys, in ceremony order.
  static const std::vector<std::string>& platformKeyNames();
  // The objects that live only inside one operation (session objects).
  static const std::vector<std::string>& transientObjectNames();

 private:
  std::map<std::string, KeyTemplate> keys_;
};

std::string mechanismName(CK_MECHANISM_TYPE m);

}  // namespace mpay::hsm
