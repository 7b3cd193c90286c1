#include "admin/token_clone.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/URI.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "admin/key_ceremony.h"
#include "admin/policy_report.h"

namespace mpay::admin {
namespace {

namespace fs = std::filesystem;

bool isSoftHsm(const HsmConfig& h) {
  return !h.token_dir.empty() && !h.softhsm2_conf.empty() && h.module.find("softhsm2") != std::string::npos;
}

Result<std::string> tokenLabel(const std::string& uri) {
  const std::string prefix = "pkcs11:";
  if (uri.rfind(prefix, 0) != 0) return fail(ErrorCode::kConfig, "hsm.token_uri is not a pkcs11: URI");
  std::istringstream parts(uri.substr(prefix.size()));
  for (std::string part; std::getline(parts, part, ';');)
    if (part.rfind("token=", 0) == 0) {
      std::string label;
      Poco::URI::decode(part.substr(6), label);
      if (!label.empty()) return label;
    }
  return fail(ErrorCode::kConfig, "hsm.token_uri names no token= label: " + uri);
}

std::string readWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// SoftHSM2 keeps each token in a directory of its own whose token.object
// holds the label, padded with spaces to 32 bytes (PKCS#11's CK_TOKEN_INFO).
std::vector<fs::path> tokensLabelled(const std::string& token_dir, const std::string& label) {
  std::string padded = label;
  if (padded.size() < 32) padded.append(32 - padded.size(), ' ');
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(token_dir, ec))
    if (entry.is_directory() && readWhole(entry.path() / "token.object").find(padded) != std::string::npos)
      found.push_back(entry.path());
  return found;
}

Status handTo(const fs::path& root, uid_t uid, gid_t gid) {
  if (lchown(root.c_str(), uid, gid) != 0) return fail(ErrorCode::kIo, "cannot chown " + root.string());
  if (!fs::is_directory(root)) return {};
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (lchown(entry.path().c_str(), uid, gid) != 0) return fail(ErrorCode::kIo, "cannot chown " + entry.path().string());
  return {};
}

}  // namespace

Result<std::string> cloneSoftHsmToken(const Config& from, const Config& to) {
  if (!isSoftHsm(from.hsm) || !isSoftHsm(to.hsm))
    return fail(ErrorCode::kConfig,
                "token clone copies SoftHSM2 tokens (hsm.module, hsm.softhsm2_conf and hsm.token_dir set on both); "
                "an HSM's keys are copied with its vendor's backup or cloning (docs/operations.md, \"A cluster\")");
  MPAY_ASSIGN_OR_RETURN(std::string label, tokenLabel(from.hsm.token_uri));
  MPAY_ASSIGN_OR_RETURN(std::string to_label, tokenLabel(to.hsm.token_uri));
  if (label != to_label)
    return fail(ErrorCode::kConfig, "the two configs name different tokens ('" + label + "', '" + to_label + "')");
  if (fs::weakly_canonical(from.hsm.token_dir) == fs::weakly_canonical(to.hsm.token_dir))
    return fail(ErrorCode::kConfig, "both configs name the same token directory " + to.hsm.token_dir);
  const auto sources = tokensLabelled(from.hsm.token_dir, label);
  if (sources.size() != 1)
    return fail(ErrorCode::kConfig, from.hsm.token_dir + " holds " + std::to_string(sources.size()) +
                                        " tokens labelled '" + label + "' (one expected)");
  if (!tokensLabelled(to.hsm.token_dir, label).empty())
    return fail(ErrorCode::kConfig, to.hsm.token_dir + " already holds a token labelled '" + label +
                                        "': a second appliance starts from an empty token directory (move it aside)");
  std::vector<std::string> from_prints;
  MPAY_ASSIGN_OR_RETURN(auto from_mismatches, checkPolicy(from, &from_prints));
  if (!from_mismatches.empty())
    return fail(ErrorCode::kPolicy, "the first appliance's token does not match policy/keys: " + from_mismatches.front());

  for (const auto& f : from_prints)
    if (f.find(std::string(" ") + kUnknownFingerprint) != std::string::npos)
      return fail(ErrorCode::kPolicy, "a fingerprint of the first token cannot be read: " + f);

  struct stat dir_owner{};
  if (::stat(to.hsm.token_dir.c_str(), &dir_owner) != 0)
    return fail(ErrorCode::kIo, "cannot stat " + to.hsm.token_dir + " (made by install or dev-setup)");
  // Copied whole under a name SoftHSM2 does not read, then renamed: a
  // failure leaves no half token behind.
  const fs::path target = fs::path(to.hsm.token_dir) / sources.front().filename();
  const fs::path partial = fs::path(to.hsm.token_dir) / (".partial-" + sources.front().filename().string());
  std::error_code ec;
  fs::remove_all(partial, ec);
  fs::copy(sources.front(), partial, fs::copy_options::recursive, ec);
  Status placed = ec ? fail(ErrorCode::kIo, "cannot copy " + sources.front().string() + ": " + ec.message())
                     : handTo(partial, dir_owner.st_uid, dir_owner.st_gid);
  if (placed.ok() && std::rename(partial.c_str(), target.c_str()) != 0)
    placed = fail(ErrorCode::kIo, "cannot rename " + partial.string());
  if (!placed.ok()) {
    fs::remove_all(partial, ec);
    return std::move(placed).error();
  }
  auto undo = [&](Error e) -> Error {
    fs::remove_all(target, ec);
    return e;
  };

  // The copy is encrypted under the first appliance's PIN: the second uses it.
  const std::string pin = readWhole(from.hsm.pin_file);
  if (pin.empty()) return undo(Error{ErrorCode::kIo, "cannot read " + from.hsm.pin_file});
  struct stat pin_owner = dir_owner;
  (void)::stat(to.hsm.pin_file.c_str(), &pin_owner);
  const std::string previous_pin = readWhole(to.hsm.pin_file);
  const std::string tmp = to.hsm.pin_file + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  const bool written = fd >= 0 && ::write(fd, pin.data(), pin.size()) == static_cast<ssize_t>(pin.size()) &&
                       ::fchown(fd, pin_owner.st_uid, pin_owner.st_gid) == 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!written || std::rename(tmp.c_str(), to.hsm.pin_file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return undo(Error{ErrorCode::kIo, "cannot install " + to.hsm.pin_file});
  }

  // From here a failure takes the copy away and puts the PIN file back.
  auto undo_all = [&](Error e) -> Error {
    if (!previous_pin.empty()) {
      std::ofstream back(to.hsm.pin_file, std::ios::trunc | std::ios::binary);
      back << previous_pin;
    }
    return undo(std::move(e));
  };

  // The copy is checked before anything is made in it; then `init` on a
  // whole platform creates nothing and exports the second's public parts
  // from its own token.
  std::vector<std::string> to_prints;
  auto to_mismatches = checkPolicy(to, &to_prints);
  if (!to_mismatches) return undo_all(std::move(to_mismatches).error());
  if (!to_mismatches->empty())
    return undo_all(Error{ErrorCode::kPolicy, "the copy does not match policy/keys: " + to_mismatches->front()});
  if (to_prints != from_prints) return undo_all(Error{ErrorCode::kInternal, "the copy's key fingerprints differ from the first token's"});
  auto ceremony = runKeyCeremony(to);
  if (!ceremony) return undo_all(std::move(ceremony).error());
  const CeremonyReport& report = ceremony.value();
  bool made = report.ca_cert_created || report.receipt_cert_created || report.audit_cert_created;
  for (const auto& key : report.keys) made = made || key.created;
  if (made) return undo_all(Error{ErrorCode::kInternal, "the ceremony made an object in the copy: it was not a whole platform"});

  std::string out = "copied   " + sources.front().string() + " -> " + target.string() + "\n" + "pin      " +
                    to.hsm.pin_file + " (the first appliance's PIN: the copy is encrypted under it)\n";
  for (const auto& file : report.exported) out += "exported " + file + "\n";
  out += "platform keys, the same on both:\n";
  for (const auto& f : to_prints) out += "  " + f + "\n";
  return out;
}

}  // namespace mpay::admin
