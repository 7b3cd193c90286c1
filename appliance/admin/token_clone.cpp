#include "admin/token_clone.h"

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

  struct stat dir_owner{};
  if (::stat(to.hsm.token_dir.c_str(), &dir_owner) != 0)
    return fail(ErrorCode::kIo, "cannot stat " + to.hsm.token_dir + " (made by install or dev-setup)");
  const fs::path target = fs::path(to.hsm.token_dir) / sources.front().filename();
  std::error_code ec;
  fs::copy(sources.front(), target, fs::copy_options::recursive, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot copy " + sources.front().string() + ": " + ec.message());
  MPAY_RETURN_IF_ERROR(handTo(target, dir_owner.st_uid, dir_owner.st_gid));

  // The copy is encrypted under the first appliance's PIN: the second uses it.
  const std::string pin = readWhole(from.hsm.pin_file);
  if (pin.empty()) return fail(ErrorCode::kIo, "cannot read " + from.hsm.pin_file);
  struct stat pin_owner = dir_owner;
  (void)::stat(to.hsm.pin_file.c_str(), &pin_owner);
  const std::string tmp = to.hsm.pin_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << pin;
    if (!out.flush()) return fail(ErrorCode::kIo, "cannot write " + tmp);
  }
  if (chmod(tmp.c_str(), 0600) != 0 || lchown(tmp.c_str(), pin_owner.st_uid, pin_owner.st_gid) != 0 ||
      std::rename(tmp.c_str(), to.hsm.pin_file.c_str()) != 0)
    return fail(ErrorCode::kIo, "cannot install " + to.hsm.pin_file);

  // The second appliance's public files come from its own token.
  MPAY_ASSIGN_OR_RETURN(CeremonyReport report, runKeyCeremony(to));
  for (const auto& key : report.keys)
    if (key.created) return fail(ErrorCode::kInternal, "the copied token lacked " + key.name + " (made anew: discard it)");
  std::vector<std::string> to_prints;
  MPAY_ASSIGN_OR_RETURN(auto to_mismatches, checkPolicy(to, &to_prints));
  if (!to_mismatches.empty()) return fail(ErrorCode::kPolicy, "the copy does not match policy/keys: " + to_mismatches.front());
  if (to_prints != from_prints) return fail(ErrorCode::kInternal, "the copy's key fingerprints differ from the first token's");

  std::string out = "copied   " + sources.front().string() + " -> " + target.string() + "\n" + "pin      " +
                    to.hsm.pin_file + " (the first appliance's PIN: the copy is encrypted under it)\n";
  for (const auto& file : report.exported) out += "exported " + file + "\n";
  out += "platform keys, the same on both:\n";
  for (const auto& f : to_prints) out += "  " + f + "\n";
  return out;
}

}  // namespace mpay::admin
