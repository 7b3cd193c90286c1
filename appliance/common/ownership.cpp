#include "common/ownership.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <vector>

namespace mpay {
namespace {

namespace fs = std::filesystem;

// Root works inside directories the service users own: never through a
// symbolic link one of them may have put there since the walk saw the path
// (chmod would follow it to any file). A link makes the call fail, closed.
Status own(const fs::path& path, uid_t uid, gid_t gid, mode_t mode) {
  if (::lchown(path.c_str(), uid, gid) != 0 || ::fchmodat(AT_FDCWD, path.c_str(), mode, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(ErrorCode::kIo, "cannot give " + path.string() + " its owner: " + std::strerror(errno));
  return {};
}

// A directory and everything below it: directories 0700, files 0600.
Status ownTree(const fs::path& dir, const Account& account) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(ErrorCode::kConfig, "not a directory: " + dir.string());
  MPAY_RETURN_IF_ERROR(own(dir, account.uid, account.gid, 0700));
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_symlink()) return fail(ErrorCode::kConfig, "refusing a symbolic link in " + dir.string());
    MPAY_RETURN_IF_ERROR(own(it->path(), account.uid, account.gid, it->is_directory() ? 0700 : 0600));
  }
  if (ec) return fail(ErrorCode::kIo, "cannot walk " + dir.string() + ": " + ec.message());
  return {};
}

Status ownFileIfSet(const std::string& path, const Account& account) {
  if (path.empty()) return {};
  std::error_code ec;
  if (!fs::exists(path, ec)) return fail(ErrorCode::kConfig, "missing: " + path);
  return own(path, account.uid, account.gid, 0600);
}

bool isPostgres(const std::string& url) { return url.rfind("postgres", 0) == 0; }

bool within(const fs::path& inner, const fs::path& outer) {
  const auto [end, _] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return end == outer.end();
}

// A tree handed to one user must hold nothing of the other's, nor the
// configuration or the policy: a db_url placed at the top of the appliance
// directory would otherwise give the gateway the whole appliance.
Status checkSeparate(const Config& config, const std::vector<fs::path>& signer_trees,
                     const std::vector<fs::path>& gateway_trees) {
  std::vector<fs::path> shared = {config.path, config.policy_dir, config.public_dir};
  for (const auto& mine : signer_trees) {
    for (const auto& theirs : gateway_trees)
      if (within(mine, theirs) || within(theirs, mine))
        return fail(ErrorCode::kConfig, mine.string() + " (signer) and " + theirs.string() + " (gateway) overlap");
  }
  for (const auto& tree : signer_trees) {
    for (const auto& other : shared)
      if (!other.empty() && within(fs::path(other), tree))
        return fail(ErrorCode::kConfig, tree.string() + " would take " + other.string() + " from its owner");
  }
  for (const auto& tree : gateway_trees) {
    for (const auto& other : shared)
      if (!other.empty() && within(fs::path(other), tree))
        return fail(ErrorCode::kConfig, tree.string() + " would take " + other.string() + " from its owner");
  }
  return {};
}

}  // namespace

std::string socketDirectory(const Config& config) {
  return fs::path(config.signer.socket).parent_path().string();
}

Status assignOwnership(const Config& config, const Account& signer, const Account& gateway) {
  const fs::path audit_dir = fs::path(config.signer.audit_log).parent_path();
  const bool sqlite = !config.gateway.db_url.empty() && !isPostgres(config.gateway.db_url);
  std::vector<fs::path> signer_trees = {audit_dir}, gateway_trees;
  if (!config.hsm.token_dir.empty()) signer_trees.emplace_back(config.hsm.token_dir);
  if (sqlite) gateway_trees.push_back(fs::path(config.gateway.db_url).parent_path());
  if (!config.gateway.outbox.empty()) gateway_trees.push_back(fs::path(config.gateway.outbox).parent_path());
  MPAY_RETURN_IF_ERROR(checkSeparate(config, signer_trees, gateway_trees));

  if (!config.hsm.token_dir.empty()) MPAY_RETURN_IF_ERROR(ownTree(config.hsm.token_dir, signer));
  MPAY_RETURN_IF_ERROR(ownFileIfSet(config.hsm.pin_file, signer));
  MPAY_RETURN_IF_ERROR(ownFileIfSet(config.hsm.softhsm2_conf, signer));
  std::error_code ec;
  fs::create_directories(audit_dir, ec);
  MPAY_RETURN_IF_ERROR(ownTree(audit_dir, signer));

  const fs::path socket_dir = socketDirectory(config);
  fs::create_directories(socket_dir, ec);
  MPAY_RETURN_IF_ERROR(own(socket_dir, signer.uid, gateway.gid, 02750));

  if (sqlite) {
    const fs::path data_dir = fs::path(config.gateway.db_url).parent_path();
    fs::create_directories(data_dir, ec);
    MPAY_RETURN_IF_ERROR(ownTree(data_dir, gateway));
  }
  if (!config.gateway.outbox.empty()) {
    const fs::path outbox_dir = fs::path(config.gateway.outbox).parent_path();
    fs::create_directories(outbox_dir, ec);
    MPAY_RETURN_IF_ERROR(ownTree(outbox_dir, gateway));
  }
  MPAY_RETURN_IF_ERROR(ownFileIfSet(config.gateway.tls_key, gateway));
  MPAY_RETURN_IF_ERROR(ownFileIfSet(config.gateway.webhook_secret_file, gateway));
  return {};
}

}  // namespace mpay
