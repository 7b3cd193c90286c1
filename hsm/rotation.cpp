#include "hsm/rotation.h"

#include <charconv>
#include <map>
#include <sstream>
#include <utility>

namespace mpay::hsm {
namespace {

constexpr char kHeader[] = "mpay-rotation 1";
constexpr std::size_t kMaxStateObjects = 8;

Error stateError(const std::string& what) { return fail(ErrorCode::kPolicy, "rotation state: " + what); }

template <class T>
bool parseNumber(const std::string& text, T* out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc{} && end == text.data() + text.size();
}

Result<KeyGenerations> parseGenerations(std::istringstream& words) {
  std::map<std::string, std::string> values;
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq == std::string::npos || !values.emplace(word.substr(0, eq), word.substr(eq + 1)).second)
      return stateError("expected each of name=value once, got '" + word + "'");
  }
  KeyGenerations g;
  const bool ok = values.size() == 5 && parseNumber(values["current"], &g.current) &&
                  parseNumber(values["next"], &g.next) && parseNumber(values["next_since"], &g.next_since) &&
                  parseNumber(values["previous"], &g.previous) &&
                  parseNumber(values["previous_until"], &g.previous_until);
  if (!ok) return stateError("expected current= next= next_since= previous= previous_until=, in decimal");
  return g;
}

struct Found {
  CK_OBJECT_HANDLE handle;
  RotationState state;
};

Result<std::vector<Found>> stateObjects(const Session& s) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL on_token = CK_TRUE;
  const std::string label = kRotationLabel;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                         {CKA_TOKEN, &on_token, sizeof on_token}};
  std::vector<CK_OBJECT_HANDLE> handles(kMaxStateObjects + 1);
  CK_ULONG count = 0;
  CK_RV rv = s.fn()->C_FindObjectsInit(s.handle(), tmpl, 3);
  if (rv != CKR_OK) return ckError(rv, "C_FindObjectsInit rotation state");
  rv = s.fn()->C_FindObjects(s.handle(), handles.data(), handles.size(), &count);
  s.fn()->C_FindObjectsFinal(s.handle());
  if (rv != CKR_OK) return ckError(rv, "C_FindObjects rotation state");
  if (count > kMaxStateObjects) return stateError("more than " + std::to_string(kMaxStateObjects) + " state objects");
  std::vector<Found> out;
  for (CK_ULONG i = 0; i < count; ++i) {
    MPAY_ASSIGN_OR_RETURN(Bytes value, s.attributeBytes(handles[i], CKA_VALUE));
    MPAY_ASSIGN_OR_RETURN(RotationState state, parseRotationState(std::string(value.begin(), value.end())));
    out.push_back({handles[i], state});
  }
  return out;
}

}  // namespace

std::vector<std::uint32_t> KeyGenerations::onToken() const {
  std::vector<std::uint32_t> out{current};
  if (next != 0) out.push_back(next);
  if (previous != 0) out.push_back(previous);
  return out;
}

const std::vector<std::string>& RotationState::kinds() {
  static const std::vector<std::string> k = {"service", "receipt", "verifier", "kek", "ca"};
  return k;
}

KeyGenerations& RotationState::of(const std::string& kind) {
  return const_cast<KeyGenerations&>(std::as_const(*this).of(kind));
}

const KeyGenerations& RotationState::of(const std::string& kind) const {
  if (kind == "receipt") return receipt;
  if (kind == "verifier") return verifier;
  if (kind == "kek") return kek;
  if (kind == "ca") return ca;
  return service;
}

std::string formatRotationState(const RotationState& state) {
  std::ostringstream out;
  out << kHeader << "\nversion " << state.version << "\n";
  for (const auto& kind : RotationState::kinds()) {
    const KeyGenerations& g = state.of(kind);
    out << kind << " current=" << g.current << " next=" << g.next << " next_since=" << g.next_since
        << " previous=" << g.previous << " previous_until=" << g.previous_until << "\n";
  }
  return out.str();
}

Result<RotationState> parseRotationState(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  if (!std::getline(lines, line) || line != kHeader) return stateError("expected '" + std::string(kHeader) + "' first");
  RotationState state;
  bool have_version = false;
  std::map<std::string, bool> have;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) return stateError("empty line");
    if (name == "version" && !have_version) {
      std::string number, extra;
      if (!(words >> number) || (words >> extra) || !parseNumber(number, &state.version) || state.version == 0)
        return stateError("expected 'version N' with N > 0");
      have_version = true;
    } else if (have.size() < RotationState::kinds().size() && name == RotationState::kinds()[have.size()]) {
      MPAY_ASSIGN_OR_RETURN(state.of(name), parseGenerations(words));
      have[name] = true;
    } else {
      return stateError("unexpected line '" + line + "'");
    }
  }
  // A state written before the verifier (the KEK, the CA) rotated has no
  // verifier (kek, ca) line: that key is at generation 1.
  if (!have_version || have.size() < 2)
    return stateError("needs a version, a service, a receipt, a verifier, a kek and a ca line, in that order");
  MPAY_RETURN_IF_ERROR(checkRotationState(state));
  return state;
}

Status checkRotationState(const RotationState& state) {
  for (const auto& kind : RotationState::kinds()) {
    const KeyGenerations& g = state.of(kind);
    if (g.current == 0) return stateError(kind + ": no current generation");
    if ((g.next == 0) != (g.next_since == 0)) return stateError(kind + ": next and next_since go together");
    if (g.next != 0 && g.next <= g.current) return stateError(kind + ": next must be newer than current");
    if (RotationState::counted(kind)) {
      if (g.previous_until != 0) return stateError(kind + ": previous_until must be 0 (no end date)");
    } else if ((g.previous == 0) != (g.previous_until == 0)) {
      return stateError(kind + ": previous and previous_until go together");
    }
    if (g.previous != 0 && g.previous >= g.current) return stateError(kind + ": previous must be older than current");
  }
  return {};
}

Result<CK_OBJECT_HANDLE> createDataObject(const Session& session, const std::string& label, ByteView value,
                                          bool private_object) {
  const std::string application = "mpay";
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE, is_private = private_object ? CK_TRUE : CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_PRIVATE, &is_private, sizeof is_private},
                         {CKA_MODIFIABLE, &no, sizeof no},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                         {CKA_APPLICATION, const_cast<char*>(application.data()), application.size()},
                         {CKA_VALUE, const_cast<std::uint8_t*>(value.data()), value.size()}};
  CK_OBJECT_HANDLE made = CK_INVALID_HANDLE;
  if (CK_RV rv = session.fn()->C_CreateObject(session.handle(), tmpl, 7, &made); rv != CKR_OK)
    return ckError(rv, "C_CreateObject " + label);
  return made;
}

Status checkOverlapBound(const RotationState& state, std::uint64_t now) {
  for (const auto& kind : RotationState::kinds())
    if (state.of(kind).previous_until > now + kMaxOverlapSeconds)
      return stateError(kind + ": the previous generation would stay in use for more than 366 days");
  return {};
}

Result<RotationState> readRotationState(const Session& session) {
  MPAY_ASSIGN_OR_RETURN(auto found, stateObjects(session));
  RotationState newest;
  for (const auto& f : found) {
    if (f.state.version == newest.version) return stateError("two state objects of version " + std::to_string(newest.version));
    if (f.state.version > newest.version) newest = f.state;
  }
  return newest;
}

Status writeRotationState(const Session& session, const RotationState& state) {
  MPAY_RETURN_IF_ERROR(checkRotationState(state));
  MPAY_ASSIGN_OR_RETURN(auto found, stateObjects(session));
  for (const auto& f : found)
    if (f.state.version >= state.version)
      return stateError("the token already holds version " + std::to_string(f.state.version) +
                        " (another rotation step ran): read it again");
  const std::string text = formatRotationState(state);
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE made, createDataObject(session, kRotationLabel, asBytes(text), true));
  CK_RV rv = CKR_OK;
  // Another writer (an mpay-admin elsewhere on a shared HSM) between the
  // check above and now: ours goes again, and the step fails.
  MPAY_ASSIGN_OR_RETURN(auto after, stateObjects(session));
  for (const auto& f : after)
    if (f.handle != made && f.state.version >= state.version) {
      session.fn()->C_DestroyObject(session.handle(), made);
      return stateError("another rotation step wrote version " + std::to_string(f.state.version) + " at the same time");
    }
  for (const auto& f : found)
    if (rv = session.fn()->C_DestroyObject(session.handle(), f.handle); rv != CKR_OK)
      return ckError(rv, "C_DestroyObject old rotation state");
  return {};
}

Result<int> destroyRotationState(const Session& session) {
  MPAY_ASSIGN_OR_RETURN(auto found, stateObjects(session));
  for (const auto& f : found)
    if (CK_RV rv = session.fn()->C_DestroyObject(session.handle(), f.handle); rv != CKR_OK)
      return ckError(rv, "C_DestroyObject rotation state");
  return static_cast<int>(found.size());
}

std::string endorsementLabel(const KeyPolicy& policy, std::uint32_t g, std::uint32_t ca_generation) {
  const std::string base = policy.generation("service", g).label + ".endorsement";
  return ca_generation == 1 ? base : base + ".ca" + std::to_string(ca_generation);
}

std::string caCrossLabel(const KeyPolicy& policy, std::uint32_t g) { return policy.generation("ca", g).label + ".cross"; }

std::string receiptRecertificationLabel(const KeyPolicy& policy, std::uint32_t g, std::uint32_t ca_generation) {
  return policy.generation("receipt", g).label + ".ca" + std::to_string(ca_generation);
}

KeyPolicy currentPolicy(const KeyPolicy& policy, const RotationState& state) {
  KeyPolicy current = policy;
  for (const auto& kind : RotationState::kinds()) current = current.withGeneration(kind, state.of(kind).current);
  return current;
}

}  // namespace mpay::hsm
