// Append-only, hash-chained audit log (docs/operations.md, "Audit log").
//
// One record a line:  <hash> <body>
//   body = compact JSON with seq, time, pid, uid, role, op, request, keys,
//          result and prev (the hash of the previous record; 64 zeros first)
//   hash = hex SHA-256 of the body bytes
// Editing a record breaks its own hash; deleting or reordering breaks seq and
// prev of the next one. Several signer processes append to one file.
//
// Group commit: the threads of a process that append at once share one
// write and one fdatasync. One of them leads: it takes an exclusive flock
// (other processes wait), takes every record queued by then, chains them
// after the file's last record, writes them and syncs before the lock is
// released; each caller returns only once its own record is on disk. If the
// write or the sync fails, every record of that batch is cut off again and
// every caller of the batch gets kAuditUnavailable and must not release the
// operation's result.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/group_commit.h"
#include "common/result.h"

namespace mpay {

struct AuditEvent {
  long uid = -1;
  std::string role;
  std::string op;
  std::uint32_t request = 0;
  std::vector<std::string> keys;  // names of the token keys the operation used
  std::string result;             // error name, "ok" on success
  std::string note;               // free text without secrets (e.g. the policy hash at start)
  std::string state;              // what the operation changed in the signer's state (no secrets); see syncFirst
};

class AuditLog {
 public:
  static Result<AuditLog> open(const std::string& path);
  AuditLog(AuditLog&& other) noexcept;
  AuditLog& operator=(AuditLog&&) = delete;
  ~AuditLog();

  // Appends one record and returns once it is on disk (with whatever other
  // threads appended at the same time); returns its sequence number.
  Result<std::uint64_t> append(const AuditEvent& event);

  // What the records describe changes of (the signer's state): a batch
  // holding a record with a `state` calls `sync` before it writes, so a
  // record on disk implies its change on disk. If it returns false, the
  // batch fails like a failed write.
  void syncFirst(std::function<bool()> sync) { sync_first_ = std::move(sync); }

  // Flushes so far (one per batch), for the benchmark and the tests.
  std::uint64_t flushes() const;

 private:
  struct Pending {
    const AuditEvent* event;
    Result<std::uint64_t> result;
  };
  explicit AuditLog(int fd) : fd_(fd), group_(std::make_unique<GroupCommit<Pending>>()) {}
  void writeBatch(const std::vector<Pending*>& batch);
  int fd_;
  std::function<bool()> sync_first_;
  std::unique_ptr<GroupCommit<Pending>> group_;
};

struct AuditHead {
  std::uint64_t seq = 0;  // 0: empty log
  std::string hash;       // 64 zeros for an empty log
};
// The last record's sequence and hash (the chain head), without verifying.
Result<AuditHead> readAuditHead(const std::string& path);

struct AuditVerification {
  std::uint64_t records = 0;
  std::string head_hash;  // hash of the last record: anchor it elsewhere to detect truncation
};
// Checks the whole chain; the error names the first bad record (line number).
Result<AuditVerification> verifyAuditLog(const std::string& path);

}  // namespace mpay
