#include "common/ownership.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mpay {
namespace {

namespace fs = std::filesystem;

// Root works inside directories the service users own, and they may change
// them while it works: every step goes through a descriptor opened without
// following a link (a path would follow a directory a user swapped for a link
// since the walk saw it), and only plain files and directories are accepted.
// A file with a second name could be someone else's file linked in, so it is
// refused too. Whatever is refused fails the start, closed.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

constexpr int kMaxDepth = 16;  // the token directory is two levels deep

Error refuse(const std::string& shown, const std::string& why) {
  return fail(ErrorCode::kConfig, "refusing " + shown + ": " + why);
}

Result<Descriptor> openNoFollow(int dir_fd, const char* name, bool directory, const std::string& shown) {
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (directory ? O_DIRECTORY : 0);
  const int fd = ::openat(dir_fd, name, flags);
  if (fd < 0 && errno == ELOOP) return refuse(shown, "a symbolic link");
  if (fd < 0) return fail(ErrorCode::kIo, "cannot open " + shown + ": " + std::strerror(errno));
  return Descriptor(fd);
}

Status own(const Descriptor& fd, const std::string& shown, uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(ErrorCode::kIo, "cannot stat " + shown + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return refuse(shown, "neither a file nor a directory");
  if (S_ISREG(st.st_mode) && st.st_nlink != 1) return refuse(shown, "a file with more than one name");
  if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0)
    return fail(ErrorCode::kIo, "cannot give " + shown + " its owner: " + std::strerror(errno));
  return {};
}

// Everything below an open directory: directories 0700, files 0600.
Status ownEntries(const Descriptor& dir, const std::string& shown, const Account& account, int depth) {
  if (depth > kMaxDepth) return refuse(shown, "nested deeper than " + std::to_string(kMaxDepth));
  const int listing_fd = ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
  DIR* listing = listing_fd < 0 ? nullptr : ::fdopendir(listing_fd);
  if (listing == nullptr) {
    if (listing_fd >= 0) ::close(listing_fd);
    return fail(ErrorCode::kIo, "cannot list " + shown + ": " + std::strerror(errno));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(listing, ::closedir);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  for (const auto& name : names) {
    const std::string entry_shown = shown + "/" + name;
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(ErrorCode::kIo, "cannot stat " + entry_shown + ": " + std::strerror(errno));
    if (S_ISLNK(st.st_mode)) return refuse(entry_shown, "a symbolic link");
    const bool directory = S_ISDIR(st.st_mode);
    MPAY_ASSIGN_OR_RETURN(auto fd, openNoFollow(dir.get(), name.c_str(), directory, entry_shown));
    MPAY_RETURN_IF_ERROR(own(fd, entry_shown, account.uid, account.gid, directory ? 0700 : 0600));
    if (directory) MPAY_RETURN_IF_ERROR(ownEntries(fd, entry_shown, account, depth + 1));
  }
  return {};
}

// A directory named in the configuration and everything below it.
Status ownTree(const fs::path& dir, const Account& account) {
  MPAY_ASSIGN_OR_RETURN(auto fd, openNoFollow(AT_FDCWD, dir.c_str(), true, dir.string()));
  MPAY_RETURN_IF_ERROR(own(fd, dir.string(), account.uid, account.gid, 0700));
  return ownEntries(fd, dir.string(), account, 1);
}

Status ownPath(const fs::path& path, bool directory, uid_t uid, gid_t gid, mode_t mode) {
  MPAY_ASSIGN_OR_RETURN(auto fd, openNoFollow(AT_FDCWD, path.c_str(), directory, path.string()));
  return own(fd, path.string(), uid, gid, mode);
}

Status ownFileIfSet(const std::string& path, const Account& account) {
  if (path.empty()) return {};
  std::error_code ec;
  if (!fs::exists(path, ec)) return fail(ErrorCode::kConfig, "missing: " + path);
  return ownPath(path, false, account.uid, account.gid, 0600);
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
  MPAY_RETURN_IF_ERROR(ownPath(socket_dir, true, signer.uid, gateway.gid, 02750));

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
  MPAY_RETURN_IF_ERROR(ownFileIfSet(config.gateway.console_token_file, gateway));
  // Development: mpayd runs the acquirer simulator as the gateway's user.
  if (config.acquirer_sim.enabled) MPAY_RETURN_IF_ERROR(ownFileIfSet(config.acquirer_sim.signing_key, gateway));
  if (fs::exists(config.signer.state_file, ec)) MPAY_RETURN_IF_ERROR(ownFileIfSet(config.signer.state_file, signer));
  // The exported audit checkpoint: the signer's to rewrite, everyone's to read.
  if (!config.signer.checkpoint_file.empty()) {
    const int fd = ::open(config.signer.checkpoint_file.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return fail(ErrorCode::kIo, "cannot make " + config.signer.checkpoint_file + ": " + std::strerror(errno));
    ::close(fd);
    MPAY_RETURN_IF_ERROR(ownPath(config.signer.checkpoint_file, false, signer.uid, signer.gid, 0644));
  }
  return {};
}

}  // namespace mpay
