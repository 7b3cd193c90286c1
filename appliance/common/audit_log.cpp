#include "common/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <new>
#include <optional>
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
  bool is_checkpoint = false;
  std::uint64_t covers = 0;
  std::string head, signature;  // hex
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
    if (auto cp = obj->getObject("checkpoint")) {
      r.is_checkpoint = true;
      r.covers = cp->getValue<std::uint64_t>("covers");
      r.head = cp->getValue<std::string>("head");
      r.signature = cp->getValue<std::string>("signature");
    }
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
    : fd_(other.fd_),
      sync_first_(std::move(other.sync_first_)),
      checkpoints_(std::move(other.checkpoints_)),
      group_(std::move(other.group_)) {
  other.fd_ = -1;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t AuditLog::flushes() const { return group_->flushes(); }

Result<std::uint64_t> AuditLog::append(const AuditEvent& event) { return submit(&event); }

void AuditLog::checkpointIfDue() {
  if (!checkpoints_.sign) return;
  if (auto r = submit(nullptr); !r.ok()) log::error("event=audit_checkpoint_failed detail=\"" + r.error().detail + "\"");
}

Result<std::uint64_t> AuditLog::submit(const AuditEvent* event) {
  Pending mine{event, fail(ErrorCode::kAuditUnavailable, "audit log: not written")};
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

struct CheckpointFields {
  std::uint64_t covers = 0;
  std::string head, signature;  // hex
};

std::string recordLine(const AuditEvent& event, std::uint64_t seq, const std::string& prev, const std::string& extra_note,
                       const CheckpointFields* checkpoint = nullptr) {
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
  if (checkpoint) {
    Poco::JSON::Object c(Poco::JSON_PRESERVE_KEY_ORDER);
    c.set("covers", checkpoint->covers);
    c.set("head", checkpoint->head);
    c.set("signature", checkpoint->signature);
    body.set("checkpoint", c);
  }
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
    // An edited last record is not continued (the next checkpoint would sign over it): fail closed.
    if (hashHex(record->body) != record->hash)
      return failAll(Error{ErrorCode::kAuditUnavailable, "audit log: last record does not match its hash (edited)"});
    seq = record->seq + 1;
    prev = record->hash;
  }
  std::string lines;
  std::vector<std::pair<Pending*, std::uint64_t>> written;
  std::string extra = cut.value() > 0 ? "cut a torn record of " + std::to_string(cut.value()) + " bytes" : "";
  bool timer = false;
  for (Pending* p : batch) {
    if (!p->event) {  // checkpointIfDue: no record of its own
      timer = true;
      p->result = std::uint64_t{0};
      continue;
    }
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
  std::optional<std::uint64_t> checkpoint_seq;
  std::string checkpoint_line;
  if (checkpoints_.sign && checkpointDue(seq - 1, timer)) {
    const Bytes digest = suite::sha256(checkpointMessage(seq - 1, prev));
    auto signature = checkpoints_.sign(digest);
    if (signature.ok()) {
      AuditEvent event;
      event.uid = checkpoints_.uid;
      event.role = "signer";
      event.op = "checkpoint";
      event.keys = {"audit"};
      event.result = "ok";
      const CheckpointFields fields{seq - 1, prev, hexEncode(signature.value())};
      checkpoint_line = recordLine(event, seq, prev, "", &fields);
      checkpoint_seq = seq;
      lines += checkpoint_line;
    } else {
      // Not again for an interval: every answer waits for this lock.
      checkpoints_.clock->failed_at = std::time(nullptr);
      log::error("event=audit_checkpoint_failed detail=\"" + signature.error().detail + "\"");
    }
  }
  if (written.empty() && !checkpoint_seq) return;
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
  if (checkpoint_seq) exportCheckpoint(*checkpoint_seq, checkpoint_line);
}

bool AuditLog::checkpointDue(std::uint64_t last_seq, bool timer) const {
  const AuditCheckpointClock* clock = checkpoints_.clock;
  if (!clock || last_seq == 0 || last_seq <= clock->covered_seq) return false;
  if (std::time(nullptr) - clock->failed_at < static_cast<std::int64_t>(checkpoints_.every_seconds)) return false;
  if (last_seq - clock->covered_seq >= checkpoints_.every_records) return true;
  (void)timer;  // a batch of records and the timer alike: the time rule
  return std::time(nullptr) - clock->at >= static_cast<std::int64_t>(checkpoints_.every_seconds);
}

// Under the flock, after the checkpoint is on disk: the shared clock, and the
// exported file rewritten whole (a reader that catches it half-written sees
// a line that does not parse or verify, and reads again).
void AuditLog::exportCheckpoint(std::uint64_t seq, const std::string& line) {
  auto record = parseRecord(line.substr(0, line.size() - 1));
  if (!record) return;
  // The checkpoint record itself needs no checkpoint: records after it do.
  checkpoints_.clock->covered_seq = seq;
  checkpoints_.clock->at = std::time(nullptr);
  checkpoints_.clock->checkpoint_seq = seq;
  if (checkpoints_.export_fd < 0) return;
  Poco::JSON::Object anchor(Poco::JSON_PRESERVE_KEY_ORDER);
  anchor.set("seq", seq);
  anchor.set("record_hash", record->hash);
  anchor.set("covers", record->covers);
  anchor.set("head", record->head);
  anchor.set("signature", record->signature);
  std::ostringstream text;
  anchor.stringify(text);
  const std::string out = text.str() + "\n";
  if (pwrite(checkpoints_.export_fd, out.data(), out.size(), 0) != static_cast<ssize_t>(out.size()) ||
      ftruncate(checkpoints_.export_fd, static_cast<off_t>(out.size())) != 0)
    log::error("event=audit_checkpoint_export_failed seq=" + std::to_string(seq));
}

Bytes checkpointMessage(std::uint64_t covers, const std::string& head_hash_hex) {
  const std::string label = "mpay-v1/audit-checkpoint";
  Bytes message(label.begin(), label.end());
  message.push_back(0);
  for (int shift = 56; shift >= 0; shift -= 8) message.push_back(static_cast<std::uint8_t>(covers >> shift));
  long len = 0;
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> head(OPENSSL_hexstr2buf(head_hash_hex.c_str(), &len),
                                                                [](unsigned char* p) { OPENSSL_free(p); });
  if (head && len == 32) message.insert(message.end(), head.get(), head.get() + len);
  return message;
}

AuditCheckpointClock* AuditCheckpointClock::createShared() {
  void* p = mmap(nullptr, sizeof(AuditCheckpointClock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return new (p) AuditCheckpointClock();
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

Result<std::string> readAuditTail(const std::string& path, std::size_t count) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::kAuditUnavailable, "cannot open audit log " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (flock(fd, LOCK_SH) != 0) return fail(ErrorCode::kAuditUnavailable, "audit log: lock failed");
  const off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return fail(ErrorCode::kAuditUnavailable, "audit log: seek failed");
  // Every record is at most kMaxRecord bytes and its newline; one byte more
  // shows whether the window's first line begins exactly at its edge.
  const auto want = static_cast<std::size_t>(std::min<off_t>(size, static_cast<off_t>(count * (kMaxRecord + 1) + 1)));
  std::string tail(want, '\0');
  if (want > 0 && pread(fd, tail.data(), want, size - static_cast<off_t>(want)) != static_cast<ssize_t>(want))
    return fail(ErrorCode::kAuditUnavailable, "audit log: read failed");
  flock(fd, LOCK_UN);
  // Whole lines only: drop a partial first line when the read began mid-file.
  std::size_t begin = 0;
  if (static_cast<off_t>(want) < size) {
    begin = tail.find('\n');
    begin = begin == std::string::npos ? tail.size() : begin + 1;
  }
  std::size_t end = tail.rfind('\n');
  if (end == std::string::npos || end < begin) return std::string();
  // Walk back over `count` lines; `from` is where the lines taken so far begin.
  std::size_t from = end + 1;
  for (std::size_t lines = 0; lines < count && from > begin; ++lines) {
    const std::size_t before = from >= 2 ? tail.rfind('\n', from - 2) : std::string::npos;
    from = before == std::string::npos || before < begin ? begin : before + 1;
  }
  return tail.substr(from, end + 1 - from);
}

Result<std::string> auditSummary(const std::string& line) {
  MPAY_ASSIGN_OR_RETURN(Record record, parseRecord(line));
  try {
    auto body = Poco::JSON::Parser().parse(record.body).extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Object out;
    out.set("seq", body->getValue<std::uint64_t>("seq"));
    for (const char* field : {"time", "role", "op", "result"}) out.set(field, body->optValue<std::string>(field, ""));
    if (body->has("keys")) out.set("keys", body->getArray("keys"));
    std::string note = body->optValue<std::string>("note", "");
    if (record.is_checkpoint) note = "signed checkpoint" + (note.empty() ? "" : "; " + note);
    if (!note.empty()) out.set("note", note);
    std::ostringstream text;
    out.stringify(text);
    return text.str();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kAuditUnavailable, "audit record does not parse: " + e.displayText());
  }
}

namespace {

Result<AuditVerification> verifyChain(const std::string& path, const suite::EcPublicKey* audit_key,
                                      const std::string& anchor_text) {
  std::uint64_t anchor_seq = 0;
  std::string anchor_hash;
  if (!anchor_text.empty()) {
    try {
      Poco::JSON::Parser parser;
      auto obj = parser.parse(anchor_text).extract<Poco::JSON::Object::Ptr>();
      anchor_seq = obj->getValue<std::uint64_t>("seq");
      anchor_hash = obj->getValue<std::string>("record_hash");
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kIo, "the exported checkpoint does not parse: " + e.displayText());
    }
  }
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
    if (audit_key && record->is_checkpoint) {
      auto signature = Bytes();
      long len = 0;
      std::unique_ptr<unsigned char, void (*)(unsigned char*)> raw(OPENSSL_hexstr2buf(record->signature.c_str(), &len),
                                                                   [](unsigned char* p) { OPENSSL_free(p); });
      if (raw) signature.assign(raw.get(), raw.get() + len);
      if (record->covers + 1 != record->seq || record->head != record->prev || record->head.size() != 64 ||
          !audit_key->verifyP1363(checkpointMessage(record->covers, record->head), signature))
        return fail(ErrorCode::kIo, where + "checkpoint signature does not verify (the records before it were "
                                            "rewritten, or it was not made with this audit key)");
      ++v.checkpoints;
      v.last_covered = record->covers;
    }
    if (anchor_seq && record->seq == anchor_seq) {
      if (record->hash != anchor_hash)
        return fail(ErrorCode::kIo, where + "is not the exported checkpoint (the log was rewritten before it)");
      v.anchor_seq = anchor_seq;
    }
    expected_prev = record->hash;
    v.records = number;
  }
  if (in.bad()) return fail(ErrorCode::kIo, "read error in " + path);
  v.head_hash = expected_prev;
  if (audit_key && v.checkpoints == 0) return fail(ErrorCode::kIo, path + ": no signed checkpoint: nothing in it is proven");
  if (anchor_seq && v.anchor_seq == 0)
    return fail(ErrorCode::kIo, path + ": ends at record " + std::to_string(v.records) +
                                    ", before the exported checkpoint " + std::to_string(anchor_seq) + " (cut off)");
  return v;
}

}  // namespace

Result<AuditVerification> verifyAuditLog(const std::string& path) { return verifyChain(path, nullptr, ""); }

Result<AuditVerification> verifyAuditLog(const std::string& path, const suite::EcPublicKey& audit_key,
                                         const std::string& anchor) {
  return verifyChain(path, &audit_key, anchor);
}

}  // namespace mpay
