// Key templates from policy/keys: what every key mpay creates in the token
// looks like. One attribute a line: "<key> <attribute> <value>  # why".
// Parsing is strict: an unknown key, attribute, value or mechanism name, a
// duplicate line or a missing attribute is an error naming file and line.
// Some invariants are checked here and cannot be relaxed by editing the file:
// platform keys stay sensitive and non-extractable.
#pragma once
#include <cstdint>
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
  // Generation g of a platform key: the same attributes, the label of that
  // generation (generationLabel). Rotation makes generations; see hsm/rotation.h.
  KeyTemplate generation(const std::string& name, std::uint32_t g) const;
  // This policy with `name` at generation g: what lanes, the ceremony and
  // policy check use for the generation in service.
  KeyPolicy withGeneration(const std::string& name, std::uint32_t g) const;
  const std::map<std::string, KeyTemplate>& keys() const { return keys_; }
  // The long-term platform keys, in ceremony order.
  static const std::vector<std::string>& platformKeyNames();
  // The objects that live only inside one operation (session objects).
  static const std::vector<std::string>& transientObjectNames();

 private:
  std::map<std::string, KeyTemplate> keys_;
  std::map<std::string, std::string> base_labels_;  // as policy/keys says: generation 1
};

// Generation 1 keeps the label policy/keys gives (tokens made before
// rotation existed are generation 1); generation g > 1 is "<label>.<g>".
std::string generationLabel(const std::string& base, std::uint32_t g);

std::string mechanismName(CK_MECHANISM_TYPE m);

}  // namespace mpay::hsm
