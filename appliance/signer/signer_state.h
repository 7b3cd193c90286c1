// What the signer remembers itself, so that a compromised gateway cannot go
// past the rules that protect a user (docs/threat-model.md, "What a
// compromised gateway can and cannot do"):
//
//   guesses   per user key and secret (password, PIN): wrong tries, and a lock
//   owners    per phone number, the key of its first login
//   nonces    per user and login nonce, until its timestamp leaves the window
//   sessions  per session, the highest payment counter used
//   permits   per permit, the acquirer answer its receipt was signed for
//   foreign permits  the same for permits another appliance of the cluster
//             issued (an order it left open, completed here)
//
// One file (signer.state_file), mapped shared by every worker before they
// fork, sized once by policy/signer.limits; a process-shared robust mutex
// guards it (a worker killed while holding it stalls nobody). Tables are
// open-addressed with a short probe; an entry past its time is free again,
// so the file never grows. Durable: a handler that changes the state says
// so in its audit record, and the audit log's batch fdatasyncs this file
// before it writes that record, so nothing is answered that a restart would
// forget. A file made for other capacities or by another format is refused
// at start (see docs/operations.md, "Signer state").
//
// Every method takes a try or spends a value *before* the secret is checked
// or the receipt signed: parallel requests cannot all pass one check.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "signer/signer_limits.h"

namespace mpay::signer {

enum class Guess : std::uint8_t { kPassword = 1, kPin = 2 };

// What one request has already spent or taken, so that the token's one
// retry after a lost session (hsm/token.h) does not spend it twice.
struct StateSteps {
  bool nonce = false, counter = false, guess = false, settled = false;
};

// Whose tries: one number's secret as registered with one key (a verifier
// checks a secret only for its own key, so a count per key lets no other
// key's right answer clear it).
struct GuessOf {
  Guess guess;
  std::string_view phone;
  ByteView user_key;
};

class SignerState {
 public:
  // `may_create` false: a missing or empty file is an error (the signer
  // served before: a new file would forget what the old one knew).
  static Result<std::unique_ptr<SignerState>> open(const std::string& path, const SignerLimits& limits,
                                                   bool may_create = true);
  ~SignerState();
  SignerState(const SignerState&) = delete;
  SignerState& operator=(const SignerState&) = delete;

  // fdatasync of the file, for the audit log's batch (AuditLog::syncFirst).
  // A failure poisons the state for every worker: nothing that depends on
  // it is answered again until the signer restarts (Linux reports a
  // writeback error once, so a later sync could not be trusted).
  bool sync();
  const SignerLimits& limits() const { return limits_; }
  // Random at the file's creation: permits name it, so a permit outlives
  // neither the file that remembers whether it was spent nor this signer.
  ByteView epoch() const;
  std::uint64_t createdAt() const;

  // Each call that changes the state appends a short description (no
  // secret) to `change`, for the audit record that makes it durable.

  // One try at a user's password or PIN, taken before it is checked:
  // password_locked / pin_locked while locked or while the tries in flight
  // already reach a limit.
  Status takeGuess(const GuessOf& whose, std::uint64_t now, std::string* change);
  // The try's outcome: a right secret clears the counts; a wrong one at a
  // limit locks (the threshold for lock_s, the day's limit for the day).
  void settleGuess(const GuessOf& whose, bool right, std::uint64_t now, std::string* change);
  // The try was taken but the secret could not be checked (the token failed).
  void returnGuess(const GuessOf& whose, std::uint64_t now, std::string* change);

  // A number belongs to the key of its first login until that certificate
  // expires: bad_certificate for any other key (a compromised gateway can
  // mint a certificate for a number, not take over one in use). `platform`
  // (the generation-1 CA certificate, which no CA rotation changes) scopes
  // it: after new-platform every number is free.
  Status checkOwner(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t now);
  Status bindOwner(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t not_after,
                   std::uint64_t now, std::string* change);

  // A login's nonce, spent once: replayed the second time; stale_timestamp
  // outside the window, or signed before this file was made (a new file
  // knows no nonce of before).
  Status spendLoginNonce(std::string_view phone, ByteView nonce, std::uint64_t timestamp, std::uint64_t now,
                         std::string* change);
  // A payment's counter must be above the session's highest so far; a
  // session opened before this file was made is expired (its counters are
  // not known here).
  Status advanceCounter(ByteView session_id, std::uint64_t counter, std::uint64_t session_opened_at,
                        std::uint64_t session_expires_at, std::uint64_t now, std::string* change);

  // A gateway process records its start once: replayed for the same pid
  // again (the last 256 are remembered; a gateway cannot fork, so only a
  // restart, which is a new start, gives it a new pid).
  // Pids are remembered for the kernel's current boot only.
  Status recordGatewayStart(std::uint32_t pid, std::string* change);
  // The start record was not written after all (the audit log failed): the
  // gateway's retry must be able to write it.
  void forgetGatewayStart(std::uint32_t pid);
  // A new permit's number.
  Result<std::uint64_t> issuePermit(std::string* change);
  // Binds permit `id` to one acquirer answer (its fingerprint): the same
  // answer again is allowed (a retry after a lost reply signs the same
  // values), another one is permit_spent; a permit older than the table
  // remembers is bad_permit.
  Status spendPermit(std::uint64_t id, ByteView answer_fingerprint, std::string* change);
  // The same for a permit another signer of the cluster issued (its state's
  // `epoch`), kept until the permit expires: one acquirer answer per permit
  // at this signer too.
  Status spendForeignPermit(ByteView epoch, std::uint64_t id, std::uint64_t expires_at, ByteView answer_fingerprint,
                            std::uint64_t now, std::string* change);

 private:
  struct Layout;
  struct Locked;
  struct Shared;
  Status holdNumber(std::string_view phone, ByteView platform, ByteView user_key, std::uint64_t now,
                    std::optional<std::uint64_t> bind_until, std::string* change);
  SignerState(int fd, void* map, std::size_t size, Shared* shared, SignerLimits limits)
      : fd_(fd), map_(map), size_(size), shared_(shared), limits_(limits) {}
  int fd_;
  void* map_;
  std::size_t size_;
  Shared* shared_;
  SignerLimits limits_;
};

}  // namespace mpay::signer
