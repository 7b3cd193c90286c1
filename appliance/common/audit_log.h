// Append-only, hash-chained audit log (docs/operations.md, "Audit log").
//
// One record a line:  <hash> <body>
//   body = compact JSON with seq, time, pid, uid, role, op, request, keys,
//          result and prev (the hash of the previous record; 64 zeros first)
//   hash = hex SHA-256 of the body bytes
// Editing a record breaks its own hash; deleting or reordering breaks seq and
// prev of the next one. Several signer processes append to one file: each
// append holds an exclusive flock, reads the last record, writes one line and
// fdatasyncs before the lock is released. If any of that fails the caller
// gets kAuditUnavailable and must not release the operation's result.
#pragma once
#include <cstdint>
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

  // Appends one record and flushes it to disk; returns its sequence number.
  Result<std::uint64_t> append(const AuditEvent& event);

 private:
  explicit AuditLog(int fd) : fd_(fd), mutex_(std::make_unique<std::mutex>()) {}
  int fd_;
  // flock does not exclude threads sharing this descriptor: they take this first.
  std::unique_ptr<std::mutex> mutex_;
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
