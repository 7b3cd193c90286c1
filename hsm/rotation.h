// Key rotation state: which generations of a platform key the signer uses.
// It lives in the token as one private data object (label mpay-rotation),
// written only by `mpay-admin rotate` and read by every signer worker at
// start and whenever its version changes (docs/architecture.md, "Key
// rotation"). A token without the object is at generation 1 of every key.
//
// The service, receipt, verifier, KEK and CA keys rotate; the others stay
// at generation 1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hsm/key_policy.h"
#include "hsm/session.h"

namespace mpay::hsm {

inline constexpr char kRotationLabel[] = "mpay-rotation";

// One key kind's generations. The signer opens with `current`, with `next`
// (made by `begin`, not yet announced) and with `previous` until
// `previous_until` (the overlap `switch` gives the phones). 0: none.
struct KeyGenerations {
  std::uint32_t current = 1;
  std::uint32_t next = 0;
  std::uint64_t next_since = 0;  // unix seconds when `begin` made it
  std::uint32_t previous = 0;
  std::uint64_t previous_until = 0;  // unix seconds; after it `previous` opens nothing

  bool operator==(const KeyGenerations&) const = default;
  // Every generation whose key must be on the token: current, next, previous.
  std::vector<std::uint32_t> onToken() const;
};

struct RotationState {
  std::uint64_t version = 0;  // 0: no state object (a token from before rotation)
  KeyGenerations service;
  KeyGenerations receipt;
  KeyGenerations verifier;
  KeyGenerations kek;
  KeyGenerations ca;

  bool operator==(const RotationState&) const = default;
  // The kinds that rotate, as policy/keys names them, in the object's order.
  static const std::vector<std::string>& kinds();
  // A kind whose previous generation stays until nothing stored needs it
  // (a verifier is remade only when its user gives the secret again; what
  // the KEK wraps is wrapped again or expires), not until a time: its
  // previous_until is 0.
  static bool counted(const std::string& kind) { return kind == "verifier" || kind == "kek"; }
  KeyGenerations& of(const std::string& kind);
  const KeyGenerations& of(const std::string& kind) const;
};

// The object's text; strict both ways (unknown lines or words are errors).
std::string formatRotationState(const RotationState& state);
Result<RotationState> parseRotationState(const std::string& text);
// Checks what no step may ever produce: generations in order, no dangling times.
Status checkRotationState(const RotationState& state);
// The longest overlap a switch may give (mpay-admin refuses more); a state
// whose previous generation stays open longer from `now` is refused.
inline constexpr std::uint64_t kMaxOverlapSeconds = 366ULL * 24 * 3600;
Status checkOverlapBound(const RotationState& state, std::uint64_t now);

// The highest version among the token's state objects (several exist only
// for a moment while a new one replaces the old); version 0 if none.
Result<RotationState> readRotationState(const Session& session);
// Creates the object for `state` (its version must be above the token's),
// then destroys the older ones. A reader in between sees the new one.
Status writeRotationState(const Session& session, const RotationState& state);
// Removes every state object (a new platform starts at generation 1).
Result<int> destroyRotationState(const Session& session);

// A token data object of mpay's (application "mpay"), never modifiable.
Result<CK_OBJECT_HANDLE> createDataObject(const Session& session, const std::string& label, ByteView value,
                                          bool private_object);

// The label of the data object holding CA generation `ca_generation`'s
// endorsement of service key generation g ("<label of generation
// g>.endorsement", with ".ca<n>" after it for CA generations above 1).
std::string endorsementLabel(const KeyPolicy& policy, std::uint32_t g, std::uint32_t ca_generation);

// The cross certificate that joins CA generation g to g-1: g's key
// certified by g-1 ("<label of CA g>.cross"; RFC 4210's NewWithOld). Same
// subject name as every CA generation, so that it does not count against
// the path length of pathlen 0 CAs. Links go one way only, from older to
// newer: nothing certifies an older CA's key, so no chain leads back.
std::string caCrossLabel(const KeyPolicy& policy, std::uint32_t g);

// The certificate CA generation `ca_generation` issued for receipt key
// generation g ("<label of receipt g>.ca<n>"): a CA rotation certifies the
// receipt key in service again, so that phones which trust only the new
// CA verify its receipts. The receipt key's own certificate keeps its label.
std::string receiptRecertificationLabel(const KeyPolicy& policy, std::uint32_t g, std::uint32_t ca_generation);

// The policy as the token stands: each rotated key at its current generation.
KeyPolicy currentPolicy(const KeyPolicy& policy, const RotationState& state);

}  // namespace mpay::hsm
