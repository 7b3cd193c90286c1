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
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  // Flushes so far (one per batch), for the benchmark and the tests.
  std::uint64_t flushes() const;

 private:
  struct Pending;
  struct Queue {
    mutable std::mutex mutex;
    std::condition_variable done;
    std::deque<Pending*> waiting;
    bool leading = false;  // one thread writes at a time (flock does not exclude threads)
    std::uint64_t flushes = 0;
  };
  explicit AuditLog(int fd) : fd_(fd), queue_(std::make_unique<Queue>()) {}
  void writeBatch(std::deque<Pending*>& batch);
  int fd_;
  std::unique_ptr<Queue> queue_;
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
