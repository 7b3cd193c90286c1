#include "common/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "suite/primitives.h"

namespace mpay {
namespace {

const std::string kZeroHash(64, '0');
constexpr std::size_t kMaxRecord = 4096;

std::string nowRfc3339() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::string hashHex(const std::string& body) { return hexEncode(suite::sha256(asBytes(body))); }

struct Record {
  std::string hash, body;
  std::uint64_t seq = 0;
  std::string prev;
};

Result<Record> parseRecord(const std::string& line) {
  if (line.size() < 66 || line[64] != ' ') return fail(ErrorCode::kIo, "record is not '<hash> <body>'");
  Record r;
  r.hash = line.substr(0, 64);
  r.body = line.substr(65);
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    r.seq = obj->getValue<std::uint64_t>("seq");
    r.prev = obj->getValue<std::string>("prev");
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kIo, "record body is not valid: " + e.displayText());
  }
  return r;
}

// A record is complete only with its newline (and it is synced before any
// answer depends on it), so bytes after the last newline are a write that
// never finished: a crash, a full disk. They are cut back to the last
// complete record. Returns how many bytes were cut.
Result<std::size_t> cutTornTail(int fd) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return fail(ErrorCode::kAuditUnavailable, "audit log: seek failed");
  if (size == 0) return std::size_t{0};
  std::size_t want = static_cast<std::size_t>(std::min<off_t>(size, kMaxRecord + 1));
  std::string tail(want, '\0');
  if (pread(fd, tail.data(), want, size - static_cast<off_t>(want)) != static_cast<ssize_t>(want))
    return fail(ErrorCode::kAuditUnavailable, "audit log: read failed");
  if (tail.back() == '\n') return std::size_t{0};
  const auto newline = tail.rfind('\n');
  if (newline == std::string::npos && static_cast<off_t>(want) < size)
    return fail(ErrorCode::kAuditUnavailable, "audit log: last record is torn and longer than any record");
  const off_t keep = newline == std::string::npos ? size - static_cast<off_t>(want)
                                                  : size - static_cast<off_t>(want) + static_cast<off_t>(newline) + 1;
  if (ftruncate(fd, keep) != 0 || fdatasync(fd) != 0)
    return fail(ErrorCode::kAuditUnavailable, "audit log: cannot cut a torn record");
  return static_cast<std::size_t>(size - keep);
}

// The last complete line of the file, or "" for an empty file.
Result<std::string> lastLine(int fd) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return fail(ErrorCode::kAuditUnavailable, "audit log: seek failed");
  if (size == 0) return std::string();
  std::size_t want = static_cast<std::size_t>(std::min<off_t>(size, kMaxRecord + 1));
  std::string tail(want, '\0');
  if (pread(fd, tail.data(), want, size - static_cast<off_t>(want)) != static_cast<ssize_t>(want))
    return fail(ErrorCode::kAuditUnavailable, "audit log: read failed");
  if (tail.back() != '\n') return fail(ErrorCode::kAuditUnavailable, "audit log: last record is torn");
  tail.pop_back();
  auto start = tail.rfind('\n');
  if (start == std::string::npos) {
    if (static_cast<off_t>(want) < size) return fail(ErrorCode::kAuditUnavailable, "audit log: record too long");
    return tail;
  }
  return tail.substr(start + 1);
}

class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd), ok_(flock(fd, LOCK_EX) == 0) {}
  ~FileLock() {
    if (ok_) flock(fd_, LOCK_UN);
  }
  bool ok() const { return ok_; }

 private:
  int fd_;
  bool ok_;
};

}  // namespace

Result<AuditLog> AuditLog::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::kAuditUnavailable, "cannot open audit log " + path);
  return AuditLog(fd);
}

AuditLog::AuditLog(AuditLog&& other) noexcept
    : fd_(other.fd_), sync_first_(std::move(other.sync_first_)), group_(std::move(other.group_)) {
  other.fd_ = -1;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t AuditLog::flushes() const { return group_->flushes(); }

Result<std::uint64_t> AuditLog::append(const AuditEvent& event) {
  Pending mine{&event, fail(ErrorCode::kAuditUnavailable, "audit log: not written")};
  group_->submit(mine, [&](auto take) {
    // flock does not exclude this process's threads; the group commit does.
    FileLock file_lock(fd_);
    const std::vector<Pending*> batch = take();
    if (!file_lock.ok()) {
      for (Pending* p : batch) p->result = fail(ErrorCode::kAuditUnavailable, "audit log: lock failed");
      return;
    }
    try {
      writeBatch(batch);
    } catch (const std::exception& e) {  // before anything is written: every record keeps its failure
      log::error(std::string("event=audit_batch_failed detail=\"") + e.what() + "\"");
    }
  });
  return std::move(mine.result);
}

namespace {

std::string recordLine(const AuditEvent& event, std::uint64_t seq, const std::string& prev, const std::string& extra_note) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("seq", seq);
  body.set("time", nowRfc3339());
  body.set("pid", static_cast<int>(getpid()));
  body.set("uid", event.uid);
  body.set("role", event.role);
  body.set("op", event.op);
  body.set("request", event.request);
  Poco::JSON::Array keys;
  for (const auto& k : event.keys) keys.add(k);
  body.set("keys", keys);
  body.set("result", event.result);
  std::string note = event.note;
  if (!extra_note.empty()) note += std::string(note.empty() ? "" : "; ") + extra_note;
  if (!note.empty()) body.set("note", note);
  if (!event.state.empty()) body.set("state", event.state);
  body.set("prev", prev);
  std::ostringstream text;
  body.stringify(text);
  return hashHex(text.str()) + " " + text.str() + "\n";
}

}  // namespace

// Runs under the flock, one thread at a time.
void AuditLog::writeBatch(const std::vector<Pending*>& batch) {
  auto failAll = [&](const Error& e) {
    for (Pending* p : batch) p->result = e;
  };
  auto cut = cutTornTail(fd_);
  if (!cut) return failAll(cut.error());
  if (cut.value() > 0) log::warn("event=audit_torn_tail_cut bytes=" + std::to_string(cut.value()));
  auto last = lastLine(fd_);
  if (!last) return failAll(last.error());
  std::uint64_t seq = 1;
  std::string prev = kZeroHash;
  if (!last->empty()) {
    auto record = parseRecord(last.value());
    if (!record) return failAll(Error{ErrorCode::kAuditUnavailable, "audit log: last record unreadable"});
    seq = record->seq + 1;
    prev = record->hash;
  }
  std::string lines;
  std::vector<std::pair<Pending*, std::uint64_t>> written;
  std::string extra = cut.value() > 0 ? "cut a torn record of " + std::to_string(cut.value()) + " bytes" : "";
  for (Pending* p : batch) {
    std::string line = recordLine(*p->event, seq, prev, extra);
    if (line.size() > kMaxRecord) {
      p->result = fail(ErrorCode::kAuditUnavailable, "audit record too long");
      continue;
    }
    extra.clear();
    prev = line.substr(0, 64);
    written.emplace_back(p, seq++);
    lines += line;
  }
  if (written.empty()) return;
  const bool changes_state =
      std::any_of(written.begin(), written.end(), [](const auto& w) { return !w.first->event->state.empty(); });
  if (changes_state && sync_first_ && !sync_first_()) {
    for (auto& [p, n] : written) p->result = fail(ErrorCode::kAuditUnavailable, "signer state: sync failed");
    return;
  }
  const off_t end = lseek(fd_, 0, SEEK_END);
  if (end < 0) return failAll(Error{ErrorCode::kAuditUnavailable, "audit log: seek failed"});
  if (::write(fd_, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size()) || fdatasync(fd_) != 0) {
    // Fail closed, and leave nothing half-written: the log ends with its last
    // complete record, so the next append succeeds once the cause is gone.
    if (ftruncate(fd_, end) == 0) (void)fdatasync(fd_);
    for (auto& [p, n] : written) p->result = fail(ErrorCode::kAuditUnavailable, "audit log: write or sync failed");
    return;
  }
  for (auto& [p, n] : written) p->result = n;
}

Result<AuditHead> readAuditHead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::kAuditUnavailable, "cannot open audit log " + path);
  auto last = lastLine(fd);
  ::close(fd);
  if (!last) return std::move(last).error();
  if (last->empty()) return AuditHead{0, kZeroHash};
  MPAY_ASSIGN_OR_RETURN(Record r, parseRecord(last.value()));
  return AuditHead{r.seq, r.hash};
}

Result<AuditVerification> verifyAuditLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "cannot read " + path);
  AuditVerification v;
  std::string expected_prev = kZeroHash, line;
  for (std::uint64_t number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    auto record = parseRecord(line);
    if (!record) return fail(ErrorCode::kIo, where + record.error().detail);
    if (hashHex(record->body) != record->hash) return fail(ErrorCode::kIo, where + "record hash mismatch (edited)");
    if (record->seq != number) return fail(ErrorCode::kIo, where + "sequence " + std::to_string(record->seq) +
                                                               " where " + std::to_string(number) + " belongs");
    if (record->prev != expected_prev)
      return fail(ErrorCode::kIo, where + "prev does not match the record before (deleted or reordered)");
    expected_prev = record->hash;
    v.records = number;
  }
  if (in.bad()) return fail(ErrorCode::kIo, "read error in " + path);
  v.head_hash = expected_prev;
  return v;
}

}  // namespace mpay
