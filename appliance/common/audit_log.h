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
//
// Checkpoints: the hash chain alone is unkeyed — whoever can write the file
// can rewrite everything after the last head kept elsewhere. So every N
// records, or T seconds after the last checkpoint when records came since
// (policy/signer.limits), the batch ends with a checkpoint record: the
// covered record's sequence and hash, signed with the token's audit key
// (ECDSA P-256 over SHA-256 of checkpointMessage()). The latest checkpoint
// is also written, whole, to a file in the public directory for an external
// anchor. A failed signature skips the checkpoint (logged), never a record.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/group_commit.h"
#include "common/result.h"
#include "suite/ec.h"

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

// When the last checkpoint was written, shared by every process that
// appends to one log (mapped before they fork); read and written under the
// log's flock.
struct AuditCheckpointClock {
  std::uint64_t covered_seq = 0;  // the last checkpoint record (it covers everything before it)
  std::int64_t at = 0;            // when (seconds since the epoch)
  std::uint64_t checkpoint_seq = 0;  // the checkpoint record's own sequence
  std::int64_t failed_at = 0;        // the last failed signature: no new try for every_seconds
  // A shared anonymous mapping; never unmapped (it lives as long as the processes).
  static AuditCheckpointClock* createShared();
};

struct AuditCheckpoints {
  std::uint32_t every_records = 0, every_seconds = 0;
  // ECDSA (r || s, 64 bytes) over a SHA-256 digest, with the audit key.
  std::function<Result<Bytes>(ByteView digest)> sign;
  AuditCheckpointClock* clock = nullptr;
  int export_fd = -1;  // the latest checkpoint, rewritten whole; -1: none
  long uid = -1;       // the signer's uid, for the checkpoint records
};

// What an audit checkpoint signs: "mpay-v1/audit-checkpoint" || 0x00 ||
// u64 big-endian covered sequence || the covered record's hash (32 bytes).
Bytes checkpointMessage(std::uint64_t covers, const std::string& head_hash_hex);

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

  // Signed checkpoints from now on (see above).
  void checkpoints(AuditCheckpoints c) { checkpoints_ = std::move(c); }
  // For a timer: a checkpoint now if records came since the last one and
  // every_seconds have passed.
  void checkpointIfDue();

  // Flushes so far (one per batch), for the benchmark and the tests.
  std::uint64_t flushes() const;

 private:
  struct Pending {
    const AuditEvent* event;
    Result<std::uint64_t> result;
  };
  explicit AuditLog(int fd) : fd_(fd), group_(std::make_unique<GroupCommit<Pending>>()) {}
  void writeBatch(const std::vector<Pending*>& batch);
  Result<std::uint64_t> submit(const AuditEvent* event);  // null: checkpointIfDue
  bool checkpointDue(std::uint64_t last_seq, bool timer) const;
  void exportCheckpoint(std::uint64_t seq, const std::string& line);
  int fd_;
  std::function<bool()> sync_first_;
  AuditCheckpoints checkpoints_;
  std::unique_ptr<GroupCommit<Pending>> group_;
};

struct AuditHead {
  std::uint64_t seq = 0;  // 0: empty log
  std::string hash;       // 64 zeros for an empty log
};
// The last record's sequence and hash (the chain head), without verifying.
Result<AuditHead> readAuditHead(const std::string& path);
// The last `count` complete records, whole lines, oldest first (fewer when
// the log holds fewer), read under a shared lock so that no batch being
// written or cut off is seen.
Result<std::string> readAuditTail(const std::string& path, std::size_t count);
// One record line reduced to what an operator's screen shows: a compact JSON
// object with seq, time, role, op, result, keys and note (a checkpoint:
// note "signed checkpoint"); no hash, prev, uid, pid, request or state.
Result<std::string> auditSummary(const std::string& line);

struct AuditVerification {
  std::uint64_t records = 0;
  std::string head_hash;  // hash of the last record: anchor it elsewhere to detect truncation
  std::uint64_t checkpoints = 0;      // checkpoint records whose signature was checked
  std::uint64_t last_covered = 0;     // the last record a checked checkpoint covers
  std::uint64_t anchor_seq = 0;       // the exported checkpoint found in the log (0: none given)
};
// Checks the whole chain; the error names the first bad record (line number).
// With `audit_key`, every checkpoint's signature too, and a log without
// one is an error; with `anchor` (the exported checkpoint file's text), the
// log must still hold that exact checkpoint record — a log cut or rewritten
// before it fails.
Result<AuditVerification> verifyAuditLog(const std::string& path);
Result<AuditVerification> verifyAuditLog(const std::string& path, const suite::EcPublicKey& audit_key,
                                         const std::string& anchor = "");

}  // namespace mpay
