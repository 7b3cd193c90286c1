#include "signer/signer_state.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <ctime>
#include <filesystem>
#include <new>
#include <optional>

#include "signer/robust_mutex.h"
#include "suite/primitives.h"

namespace mpay::signer {
namespace {

constexpr char kMagic[8] = {'M', 'P', 'A', 'Y', 'S', 'T', 'A', '1'};
constexpr std::uint32_t kVersion = 4;  // 4: the table of other appliances' permits
constexpr std::size_t kHeaderSize = 4096;
constexpr std::size_t kProbe = 32;
constexpr std::size_t kKeyLen = 16;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t users, phones, login_nonces, sessions, permits;
  std::uint8_t epoch[16];
  std::uint8_t hash_key[32];  // keys the tables' hashes: where an entry lands cannot be chosen from outside
  std::uint64_t next_permit;  // the number the next permit gets; 1 first
  std::uint64_t created_at;   // seconds since the epoch: nothing signed before it is known here
  // The last gateway processes that recorded their start (record_start, once
  // each). Zero in a file made before this field: no pid is ever 0.
  std::uint32_t started_gateways[256];
  std::uint32_t next_started;
  char started_boot[37];  // the kernel's boot_id the pids above belong to (pids repeat after a reboot)
  std::uint32_t foreign_permits;
  ByteView hash_key_view() const { return ByteView(hash_key, sizeof hash_key); }
};
static_assert(sizeof(Header) <= kHeaderSize);

// 64 bytes: a slot never straddles a disk sector, so a torn write at a
// crash tears no slot.
struct GuessSlot {
  std::uint8_t key[kKeyLen];  // all zero: never used (ends a probe)
  std::uint32_t tries;        // wrong (or unsettled) tries in a row
  std::uint32_t day_tries;    // wrong (or unsettled) tries since day_start
  std::uint64_t locked_until;
  std::uint64_t forget_at;  // past it, the slot is free
  std::uint64_t day_start;  // the first wrong try of the day being counted
  std::uint8_t padding[16];
};
static_assert(sizeof(GuessSlot) == 64);

struct ExpiringSlot {
  std::uint8_t key[kKeyLen];
  std::uint64_t value;       // a session's highest counter; unused for nonces
  std::uint64_t expires_at;  // past it, the slot is free
};
static_assert(sizeof(ExpiringSlot) == 32);

struct Key {
  std::uint8_t bytes[kKeyLen];
  std::uint64_t home;
};

// Keys are keyed hashes: a table holds no phone number, nonce or session
// id, and nobody without the file can aim entries at one neighbourhood.
Key keyOf(ByteView hash_key, std::string_view table, ByteView a, ByteView b = {}, ByteView c = {}) {
  ByteWriter w;
  w.field(hash_key).field(table).field(a).field(b).field(c);
  const Bytes digest = suite::sha256(w.bytes());
  Key k{};
  std::memcpy(k.bytes, digest.data(), kKeyLen);
  for (int i = 0; i < 8; ++i) k.home = (k.home << 8) | digest[kKeyLen + i];
  return k;
}

bool neverUsed(const std::uint8_t* key) {
  for (std::size_t i = 0; i < kKeyLen; ++i)
    if (key[i]) return false;
  return true;
}

// The slot holding `key` (live), else a free one to take, else none.
template <class Slot, class IsFree>
Slot* probe(Slot* table, std::size_t slots, const Key& key, IsFree is_free, bool* found) {
  Slot* free_slot = nullptr;
  *found = false;
  for (std::size_t i = 0; i < kProbe; ++i) {
    Slot& s = table[(key.home + i) % slots];
    const bool never = neverUsed(s.key);
    if (!never && std::memcmp(s.key, key.bytes, kKeyLen) == 0 && !is_free(s)) {
      *found = true;
      return &s;
    }
    if (!free_slot && (never || is_free(s))) free_slot = &s;
    if (never) break;  // slots are never emptied again: the key is not further on
  }
  return free_slot;
}

std::string_view guessName(Guess g) { return g == Guess::kPassword ? "password" : "pin"; }

// The first 8 bytes of the key's SHA-256, never 0 (0: no owner).
std::uint64_t keyFingerprint(ByteView user_key) {
  const Bytes digest = suite::sha256(user_key);
  std::uint64_t f = 0;
  for (int i = 0; i < 8; ++i) f = (f << 8) | digest[i];
  return f | 1;
}

// A slot is rewritten whole from a copy whose key is already set, so a
// worker killed mid-write never leaves an all-zero key (which would end
// every probe there and hide the entries beyond).
template <class Slot>
void rewrite(Slot* slot, Slot fresh, const Key& key) {
  std::memcpy(fresh.key, key.bytes, kKeyLen);
  *slot = fresh;
}

}  // namespace

struct SignerState::Layout {
  Header* header;
  GuessSlot* guesses;
  ExpiringSlot* owners;
  ExpiringSlot* nonces;
  ExpiringSlot* sessions;
  std::uint64_t* permits;
  ExpiringSlot* foreign_permits;

  static std::size_t size(const SignerLimits& l) {
    return kHeaderSize + std::size_t{l.users} * sizeof(GuessSlot) +
           (std::size_t{l.phones} + l.login_nonces + l.sessions) * sizeof(ExpiringSlot) +
           std::size_t{l.permits} * sizeof(std::uint64_t) + std::size_t{l.foreign_permits} * sizeof(ExpiringSlot);
  }
  Layout(void* map, const SignerLimits& l) {
    auto* p = static_cast<std::uint8_t*>(map);
    header = reinterpret_cast<Header*>(p);
    p += kHeaderSize;
    guesses = reinterpret_cast<GuessSlot*>(p);
    p += std::size_t{l.users} * sizeof(GuessSlot);
    owners = reinterpret_cast<ExpiringSlot*>(p);
    p += std::size_t{l.phones} * sizeof(ExpiringSlot);
    nonces = reinterpret_cast<ExpiringSlot*>(p);
    p += std::size_t{l.login_nonces} * sizeof(ExpiringSlot);
    sessions = reinterpret_cast<ExpiringSlot*>(p);
    p += std::size_t{l.sessions} * sizeof(ExpiringSlot);
    permits = reinterpret_cast<std::uint64_t*>(p);
    p += std::size_t{l.permits} * sizeof(std::uint64_t);
    foreign_permits = reinterpret_cast<ExpiringSlot*>(p);
  }
};

struct SignerState::Shared {
  pthread_mutex_t mutex;
  std::atomic<bool> poisoned;  // a sync failed: see sync()
};

// Holds the shared mutex, and says whether the state may be used at all.
struct SignerState::Locked {
  explicit Locked(Shared* shared) : lock(&shared->mutex) {
    if (!lock.locked()) status = fail(ErrorCode::kInternal, "state lock");
    else if (shared->poisoned.load())
      status = fail(ErrorCode::kAuditUnavailable, "signer state could not be synced; restart the signer");
  }
  bool ok() const { return status.ok(); }
  RobustLock lock;
  Status status;
};

namespace {

Status sysError(const std::string& what) { return fail(ErrorCode::kIo, what + ": " + std::strerror(errno)); }

Status createFile(int fd, const std::string& path, const SignerLimits& limits, std::size_t size) {
  if (int rc = posix_fallocate(fd, 0, static_cast<off_t>(size)); rc != 0)
    return fail(ErrorCode::kIo, "cannot allocate " + path + ": " + std::strerror(rc));
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.users = limits.users;
  h.phones = limits.phones;
  h.login_nonces = limits.login_nonces;
  h.sessions = limits.sessions;
  h.permits = limits.permits;
  h.foreign_permits = limits.foreign_permits;
  const Bytes epoch = suite::randomBytes(sizeof h.epoch);
  std::memcpy(h.epoch, epoch.data(), sizeof h.epoch);
  const Bytes hash_key = suite::randomBytes(sizeof h.hash_key);
  std::memcpy(h.hash_key, hash_key.data(), sizeof h.hash_key);
  h.next_permit = 1;
  h.created_at = static_cast<std::uint64_t>(std::time(nullptr));
  if (pwrite(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) || fdatasync(fd) != 0)
    return sysError("cannot write " + path);
  // The new name must survive a crash too.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return sysError("cannot open " + dir);
  const int synced = fsync(dir_fd);
  ::close(dir_fd);
  if (synced != 0) return sysError("cannot sync " + dir);
  return {};
}

Status checkHeader(int fd, const std::string& path, const SignerLimits& limits, std::size_t size) {
  struct stat st{};
  if (fstat(fd, &st) != 0) return sysError("cannot stat " + path);
  Header h{};
  if (pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) || std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 ||
      h.version != kVersion)
    return fail(ErrorCode::kConfig, path + " is not a signer state file of this version");
  if (h.users != limits.users || h.phones != limits.phones || h.login_nonces != limits.login_nonces || h.sessions != limits.sessions ||
      h.permits != limits.permits || h.foreign_permits != limits.foreign_permits || static_cast<std::size_t>(st.st_size) != size)
    return fail(ErrorCode::kConfig, path + " was made for other capacities than policy/signer.limits names; see "
                                           "docs/operations.md, \"Signer state\"");
  return {};
}

}  // namespace

Result<std::unique_ptr<SignerState>> SignerState::open(const std::string& path, const SignerLimits& limits,
                                                       bool may_create) {
  const std::size_t size = Layout::size(limits);
  if (!may_create) {
    struct stat existing{};
    if (::stat(path.c_str(), &existing) != 0 || existing.st_size == 0)
      return fail(ErrorCode::kConfig, path + " is missing, but the audit log shows this signer served before: a new "
                                             "file forgets spent permits, who holds each number and recent nonces. "
                                             "Make one deliberately: mpay-admin state new --config FILE");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return sysError("cannot open the signer state " + path).error();
  auto closeFd = [fd](Error e) -> Error {
    ::close(fd);
    return e;
  };
  // One signer per file: two would keep two mutexes over one table.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0)
    return closeFd(Error{ErrorCode::kConfig, path + " is in use by another signer"});
  struct stat st{};
  if (fstat(fd, &st) != 0) return closeFd(sysError("cannot stat " + path).error());
  Status ready = st.st_size == 0 ? createFile(fd, path, limits, size) : checkHeader(fd, path, limits, size);
  if (!ready.ok()) return closeFd(std::move(ready).error());
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return closeFd(sysError("cannot map " + path).error());
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    munmap(map, size);
    return closeFd(sysError("cannot map the state mutex").error());
  }
  {
    // Process ids mean nothing across a reboot: forget the started gateways of another boot.
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    std::string boot_id;
    std::getline(boot, boot_id);
    auto* header = static_cast<Header*>(map);
    if (boot_id.size() >= sizeof header->started_boot ||
        std::strncmp(header->started_boot, boot_id.c_str(), sizeof header->started_boot) != 0) {
      std::memset(header->started_gateways, 0, sizeof header->started_gateways);
      header->next_started = 0;
      std::memset(header->started_boot, 0, sizeof header->started_boot);
      std::memcpy(header->started_boot, boot_id.data(), std::min(boot_id.size(), sizeof header->started_boot - 1));
    }
  }
  auto* shared = new (page) Shared{};
  if (auto made = initRobustMutex(&shared->mutex); !made.ok()) {
    munmap(page, sizeof(Shared));
    munmap(map, size);
    return closeFd(std::move(made).error());
  }
  return std::unique_ptr<SignerState>(new SignerState(fd, map, size, shared, limits));
}

SignerState::~SignerState() {
  munmap(shared_, sizeof(Shared));
  munmap(map_, size_);
  ::close(fd_);
}

bool SignerState::sync() {
  if (shared_->poisoned.load()) return false;
  if (fdatasync(fd_) == 0) return true;
  shared_->poisoned.store(true);
  return false;
}

std::uint64_t SignerState::createdAt() const { return Layout(map_, limits_).header->created_at; }

ByteView SignerState::epoch() const {
  const Layout l(map_, limits_);
  return ByteView(l.header->epoch, sizeof l.header->epoch);
}

namespace {

struct GuessRule {
  std::uint32_t threshold, lock_s, daily;
  ErrorCode locked;
};

GuessRule ruleOf(const SignerLimits& l, Guess g) {
  if (g == Guess::kPassword)
    return {l.password_threshold, l.password_lock_s, l.password_daily, ErrorCode::kPasswordLocked};
  return {l.pin_threshold, l.pin_lock_s, l.pin_daily, ErrorCode::kPinLocked};
}

bool guessFree(const GuessSlot& g, std::uint64_t now) { return g.forget_at <= now; }

}  // namespace

Status SignerState::takeGuess(const GuessOf& whose, std::uint64_t now, std::string* change) {
  const GuessRule rule = ruleOf(limits_, whose.guess);
  const std::string name(guessName(whose.guess));
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  const Key key = keyOf(l.header->hash_key_view(), "guess", asBytes(name), asBytes(whose.phone), whose.user_key);
  bool found = false;
  GuessSlot* s = probe(l.guesses, limits_.users, key, [now](const GuessSlot& g) { return guessFree(g, now); }, &found);
  if (!s) return fail(ErrorCode::kStateFull, "no free slot for a user's tries");
  GuessSlot g = found ? *s : GuessSlot{};
  if (g.locked_until > now) return fail(rule.locked, name + " locked");
  // A lock that ran out starts the count again; the day's count runs on.
  if (g.locked_until != 0) {
    g.locked_until = 0;
    g.tries = 0;
  }
  if (now >= g.day_start + 86400) {
    g.day_start = now;
    g.day_tries = 0;
  }
  if (g.tries >= rule.threshold) return fail(rule.locked, name + " tries in flight reach the threshold");
  if (g.day_tries >= rule.daily) return fail(rule.locked, name + " tries in flight reach the day's limit");
  ++g.tries;
  ++g.day_tries;
  g.forget_at = std::max(now + rule.lock_s, g.day_start + 86400);
  rewrite(s, g, key);
  *change += std::string(change->empty() ? "" : " ") + name + "_tries=" + std::to_string(g.tries) + "/" +
             std::to_string(rule.threshold) + " day=" + std::to_string(g.day_tries) + "/" + std::to_string(rule.daily);
  return {};
}

void SignerState::settleGuess(const GuessOf& whose, bool right, std::uint64_t now, std::string* change) {
  const GuessRule rule = ruleOf(limits_, whose.guess);
  const std::string name(guessName(whose.guess));
  Locked lock(shared_);
  if (!lock.ok()) return;  // the try stays counted: fail closed
  const Layout l(map_, limits_);
  const Key key = keyOf(l.header->hash_key_view(), "guess", asBytes(name), asBytes(whose.phone), whose.user_key);
  bool found = false;
  GuessSlot* s = probe(l.guesses, limits_.users, key, [now](const GuessSlot& g) { return guessFree(g, now); }, &found);
  if (!found) return;
  GuessSlot g = *s;
  if (right) {
    // The run of wrong tries ends; the day's wrong tries stay counted (this
    // try was not one of them).
    g.tries = 0;
    if (g.day_tries > 0) --g.day_tries;
    if (g.day_tries == 0 && g.locked_until <= now) g = GuessSlot{};  // free again; the key stays so that probes pass it
    rewrite(s, g, key);
    *change += " " + name + "_tries=0 day=" + std::to_string(g.day_tries);
    return;
  }
  if (g.locked_until > now || (g.tries < rule.threshold && g.day_tries < rule.daily)) return;
  // The day's limit locks until the day is over, the threshold for lock_s.
  g.locked_until = g.day_tries >= rule.daily ? std::max(now + rule.lock_s, g.day_start + 86400) : now + rule.lock_s;
  g.forget_at = std::max(g.forget_at, g.locked_until);
  rewrite(s, g, key);
  *change += " " + name + "_locked_until=" + std::to_string(g.locked_until);
}

void SignerState::returnGuess(const GuessOf& whose, std::uint64_t now, std::string* change) {
  const std::string name(guessName(whose.guess));
  Locked lock(shared_);
  if (!lock.ok()) return;
  const Layout l(map_, limits_);
  const Key key = keyOf(l.header->hash_key_view(), "guess", asBytes(name), asBytes(whose.phone), whose.user_key);
  bool found = false;
  GuessSlot* s = probe(l.guesses, limits_.users, key, [now](const GuessSlot& g) { return guessFree(g, now); }, &found);
  if (!found || s->tries == 0 || s->locked_until > now) return;
  GuessSlot g = *s;
  --g.tries;
  if (g.day_tries > 0) --g.day_tries;
  rewrite(s, g, key);
  *change += " " + name + "_tries=" + std::to_string(g.tries) + " (returned)";
}

Status SignerState::checkOwner(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t now) {
  return holdNumber(phone, platform, user_key, now, std::nullopt, nullptr);
}

Status SignerState::bindOwner(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t not_after,
                              std::uint64_t now, std::string* change) {
  return holdNumber(phone, platform, user_key, now, not_after, change);
}

Status SignerState::holdNumber(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t now,
                               std::optional<std::uint64_t> bind_until, std::string* change) {
  const Bytes platform_id = suite::sha256(platform);
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  const Key key = keyOf(l.header->hash_key_view(), "owner", asBytes(phone), platform_id);
  bool found = false;
  ExpiringSlot* s = probe(l.owners, limits_.phones, key, [now](const ExpiringSlot& e) { return e.expires_at <= now; },
                          &found);
  const std::uint64_t fingerprint = keyFingerprint(user_key);
  if (found && s->value != fingerprint)
    return fail(ErrorCode::kBadCertificate, "the number is held by the key of its first login");
  if (found || !bind_until) return {};
  if (!s) return fail(ErrorCode::kStateFull, "no free slot for a number's owner");
  const std::uint64_t not_after = *bind_until;
  rewrite(s, ExpiringSlot{{}, fingerprint, not_after}, key);
  *change += " owner=bound";
  return {};
}

Status SignerState::spendLoginNonce(std::string_view phone, ByteView nonce, std::uint64_t timestamp,
                                    std::uint64_t now, std::string* change) {
  const std::uint64_t window = limits_.timestamp_window_s;
  if (timestamp + window < now || timestamp > now + window)
    return fail(ErrorCode::kStaleTimestamp, "login timestamp outside the signer's window");
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  if (timestamp < l.header->created_at)
    return fail(ErrorCode::kStaleTimestamp, "login signed before the signer's state was made");
  const Key key = keyOf(l.header->hash_key_view(), "nonce", asBytes(phone), nonce);
  bool found = false;
  ExpiringSlot* s = probe(l.nonces, limits_.login_nonces, key,
                          [now](const ExpiringSlot& e) { return e.expires_at <= now; }, &found);
  if (found) return fail(ErrorCode::kReplayed, "login nonce already used");
  if (!s) return fail(ErrorCode::kStateFull, "no free slot for a login nonce");
  rewrite(s, ExpiringSlot{{}, 0, timestamp + window + 1}, key);  // a replay cannot be fresh any later
  *change += std::string(change->empty() ? "" : " ") + "login_nonce=spent";
  return {};
}

Status SignerState::advanceCounter(ByteView session_id, std::uint64_t counter, std::uint64_t session_opened_at,
                                   std::uint64_t session_expires_at, std::uint64_t now, std::string* change) {
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  if (session_opened_at < l.header->created_at)
    return fail(ErrorCode::kSessionExpired, "session opened before the signer's state was made");
  const Key key = keyOf(l.header->hash_key_view(), "session", session_id);
  bool found = false;
  ExpiringSlot* s = probe(l.sessions, limits_.sessions, key,
                          [now](const ExpiringSlot& e) { return e.expires_at <= now; }, &found);
  if (found && counter <= s->value) return fail(ErrorCode::kReplayed, "payment counter not above the session's highest");
  if (!s) return fail(ErrorCode::kStateFull, "no free slot for a session");
  rewrite(s, ExpiringSlot{{}, counter, session_expires_at}, key);
  *change += std::string(change->empty() ? "" : " ") + "session_counter=" + std::to_string(counter);
  return {};
}

Result<std::uint64_t> SignerState::issuePermit(std::string* change) {
  Locked lock(shared_);
  if (!lock.ok()) return lock.status.error();
  const Layout l(map_, limits_);
  const std::uint64_t id = l.header->next_permit++;
  l.permits[id % limits_.permits] = 0;  // the slot's previous permit is now too old to spend
  *change += std::string(change->empty() ? "" : " ") + "permit=" + std::to_string(id) + " issued";
  return id;
}

Status SignerState::recordGatewayStart(std::uint32_t pid, std::string* change) {
  if (pid == 0) return fail(ErrorCode::kBadField, "no process id");
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  Header& h = *l.header;
  constexpr std::size_t n = sizeof h.started_gateways / sizeof h.started_gateways[0];
  for (std::uint32_t seen : h.started_gateways)
    if (seen == pid) return fail(ErrorCode::kReplayed, "this gateway process (pid " + std::to_string(pid) + ") already recorded its start");
  h.started_gateways[h.next_started++ % n] = pid;
  *change += std::string(change->empty() ? "" : " ") + "gateway_pid=" + std::to_string(pid) + " started";
  return {};
}

void SignerState::forgetGatewayStart(std::uint32_t pid) {
  Locked lock(shared_);
  if (!lock.ok()) return;
  const Layout l(map_, limits_);
  for (std::uint32_t& seen : l.header->started_gateways)
    if (seen == pid) seen = 0;
}

namespace {

std::uint64_t answerFingerprint(ByteView answer_fingerprint) {
  std::uint64_t fingerprint = 0;
  for (std::size_t i = 0; i < 8 && i < answer_fingerprint.size(); ++i) fingerprint = (fingerprint << 8) | answer_fingerprint[i];
  return fingerprint | 1;  // 0 marks an unspent permit
}

}  // namespace

Status SignerState::spendForeignPermit(ByteView epoch, std::uint64_t id, std::uint64_t expires_at,
                                       ByteView answer_fingerprint, std::uint64_t now, std::string* change) {
  const std::uint64_t fingerprint = answerFingerprint(answer_fingerprint);
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  ByteWriter number;
  number.u64(id);
  const Key key = keyOf(l.header->hash_key_view(), "foreign_permit", epoch, number.bytes());
  bool found = false;
  ExpiringSlot* s = probe(l.foreign_permits, limits_.foreign_permits, key,
                          [now](const ExpiringSlot& e) { return e.expires_at < now; }, &found);
  if (found && s->value != fingerprint)
    return fail(ErrorCode::kPermitSpent, "another appliance's permit already used here for another acquirer answer");
  if (!s) return fail(ErrorCode::kStateFull, "no free slot for another appliance's permit");
  *change += std::string(change->empty() ? "" : " ") + "foreign_permit=" + hexEncode(epoch.first(4)) + ":" +
             std::to_string(id) + (found ? " signed again" : " spent");
  if (!found) rewrite(s, ExpiringSlot{{}, fingerprint, expires_at}, key);
  return {};
}

Status SignerState::spendPermit(std::uint64_t id, ByteView answer_fingerprint, std::string* change) {
  const std::uint64_t fingerprint = answerFingerprint(answer_fingerprint);
  Locked lock(shared_);
  if (!lock.ok()) return lock.status;
  const Layout l(map_, limits_);
  const std::uint64_t next = l.header->next_permit;
  if (id == 0 || id >= next) return fail(ErrorCode::kBadPermit, "no such permit number");
  if (id + limits_.permits <= next) return fail(ErrorCode::kBadPermit, "permit older than the signer remembers");
  std::uint64_t& slot = l.permits[id % limits_.permits];
  if (slot != 0 && slot != fingerprint) return fail(ErrorCode::kPermitSpent, "permit already used for another acquirer answer");
  // The same answer again is answered from what may not be on disk yet
  // (another worker's batch): it is named, so this batch syncs it too.
  *change += std::string(change->empty() ? "" : " ") + "permit=" + std::to_string(id) + (slot ? " signed again" : " spent");
  slot = fingerprint;
  return {};
}

}  // namespace mpay::signer
