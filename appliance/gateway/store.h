// The gateway's database (patent ⑤): users, pending registrations,
// sessions, login nonces, transactions and the confirmation-code outbox.
// SQLite by default (WAL, synchronous=FULL), PostgreSQL when db_url is a
// postgresql:// URL; one schema, migrations applied at open. No password,
// PIN or identity number is stored in clear: only verifiers (HMAC under a
// token key) and ciphertexts under the token's KEK.
#pragma once
#include <Poco/Data/Session.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/group_commit.h"
#include "gateway/db_connections.h"
#include "gateway/api_error.h"
#include "gateway/generation_count.h"

namespace mpay::gateway {

struct UserCredentials {
  Bytes certificate, salt, password_verifier, pin_verifier, identity;
  // The verifier key generation each verifier was made under, and the KEK
  // generation the identity record is sealed under (key rotation).
  std::int64_t password_verifier_generation = 1, pin_verifier_generation = 1;
  std::int64_t identity_kek_generation = 1;
};

struct UserRow {
  std::string phone;
  UserCredentials credentials;
  int failed_logins = 0;
  std::int64_t login_locked_until = 0;
  int failed_pins = 0;
  std::int64_t pin_locked_until = 0;
};

struct PendingRegistration {
  std::string phone;
  std::string code_hash;  // hex SHA-256 of the registration code
  Bytes registration_file;
  UserCredentials credentials;
  int attempts = 0;       // activations and logins tried (right or wrong)
  std::int64_t expires_at = 0;
  std::string proof_hash;  // hex SHA-256 of the confirmation proof the phone must send
  int confirm_attempts = 0;
};

struct SessionRow {
  Bytes session_id;
  std::string phone;
  Bytes wrapped_keys;
  std::int64_t expires_at = 0;
  std::int64_t last_counter = 0;
  std::int64_t kek_generation = 1;  // the KEK wrapped_keys are sealed under
};

// One order. Its life: `verifying` (claimed by one request while the signer
// checks it; no acquirer asked yet) -> `pending` (verified, permit held, the
// acquirer may be asked) -> `approved` | `declined` (receipt signed), or
// `unknown` (the acquirer was or may have been asked and the outcome or the
// receipt is missing) -> completed later by a retry or by the completer.
struct TransactionRow {
  std::string order_no;
  std::string request_hash;  // SHA-256 of the exact request that claimed the order
  std::string phone;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string state;
  std::string transaction_no;
  Bytes receipt, receipt_signature;
  std::string content_hash;  // the payment's content key (docs/protocol.md 7.5), set once verified
  std::string content;       // the verified transaction content, for asking the acquirer again
  std::string acquirer_result;  // approved/declined once the acquirer answered (also while the receipt is missing)
  Bytes permit;              // the signer's permit for this payment's receipt
  std::int64_t claimed_until = 0;  // a request or the completer is working on it until then
  bool final() const { return state == "approved" || state == "declined"; }
};

// Which secret an attempt is spent on: a user's password or PIN
// (users.failed_logins / failed_pins), or a password for a number that has no
// user (login_guesses_without_user), counted alike so the lockout is no oracle.
enum class Guess { kPassword, kPin, kPasswordWithoutUser };

struct OutboxMessage {
  std::string id, phone, code;
};

// Who sends a code (a random token of one sender) and until when; a claim
// that runs out (its sender died) lets another sender take the code.
struct OutboxClaim {
  std::string by;
  std::int64_t until = 0;
};

// postgresql://user:password@host:port/database[?sslmode=...] to libpq's
// "key=value" form, which Poco's PostgreSQL connector requires.
ApiResult<std::string> postgresConnectionString(const std::string& url);

class Store {
 public:
  // Connections: one for each of `request_workers` (gateway.max_threads)
  // and kBackgroundSessions for the gateway's own threads, so a full load
  // never finds the pool empty.
  static constexpr int kBackgroundSessions = 4;
  static ApiResult<std::unique_ptr<Store>> open(const std::string& url, int request_workers = 1);
  bool isPostgres() const { return postgres_; }
  int schemaVersion();

  // One durable write (a row in health_probe): the database can commit.
  ApiStatus probeWrite(std::int64_t now);
  ApiResult<bool> userExists(const std::string& phone);
  ApiStatus putRegistration(const PendingRegistration& r);  // replaces a pending one for the phone
  ApiResult<std::optional<PendingRegistration>> findRegistration(const std::string& phone);
  // Spends one attempt at the registration code (or, for a pending
  // registration, a login) before it is checked; false when `limit` are spent or none is pending.
  ApiResult<bool> spendCodeAttempt(const std::string& phone, int limit);
  // The same for the confirmation proof.
  ApiResult<bool> spendConfirmAttempt(const std::string& phone, int limit);
  // Confirmed: moves the pending registration into users, in one transaction; false if it was gone.
  ApiResult<bool> confirmRegistration(const std::string& phone, std::int64_t now);

  ApiResult<std::optional<UserRow>> findUser(const std::string& phone);
  // Lockouts: an attempt is spent, atomically, before the secret is checked.
  // False when the secret is locked (no attempt spent). The attempt that
  // reaches `threshold` sets the lock until `lock_until`, so at most
  // `threshold` attempts reach the check however many run at once; a lock
  // that has run out starts the count again.
  ApiResult<bool> spendAttempt(Guess guess, const std::string& phone, std::int64_t now, std::int64_t lock_until,
                               int threshold);
  // The secret was not checked (the request failed before): the attempt comes back.
  ApiStatus returnAttempt(Guess guess, const std::string& phone, int threshold);
  // The secret was right: the count and any lock are cleared.
  ApiStatus clearAttempts(Guess guess, const std::string& phone);
  // Forgets counts for numbers without a user whose lock has run out (the
  // count would start again anyway) or that were first tried before `created_before`.
  ApiStatus purgeGuessesWithoutUser(std::int64_t now, std::int64_t created_before);
  // A login's first durable step, one transaction: the request's hash is
  // remembered (a login request is tried once; old ones are purged), then
  // an attempt at the password is spent (`guess`: the user's, or the count
  // of a number without a user). Replayed changes nothing; locked keeps the
  // request spent.
  enum class LoginStart { kStarted, kReplayed, kLocked };
  struct LoginStartRequest {
    Guess guess = Guess::kPassword;
    std::string phone;
    Bytes request_hash;
    std::int64_t now = 0, keep_after = 0, lock_until = 0;
    int threshold = 0;
  };
  ApiResult<LoginStart> startLogin(const LoginStartRequest& r);
  // The password was right, in one transaction: the phone's signed nonce
  // remembered, the attempt count cleared and the session stored; false
  // (nothing changed) when the nonce was seen before.
  ApiResult<bool> finishLogin(Guess guess, const std::string& phone, ByteView nonce, std::int64_t now,
                              std::int64_t keep_after, const SessionRow& session);

  ApiResult<std::optional<SessionRow>> findSession(ByteView session_id);

  ApiResult<std::optional<TransactionRow>> findTransaction(const std::string& order_no);
  // A payment's first durable step, one transaction: (with `claim`) the
  // order is claimed (state verifying), the session's counter is spent, then
  // a PIN attempt. An order already taken or a used counter changes
  // nothing; a locked PIN keeps the counter spent (a replay of the request
  // is refused without reaching the PIN) and claims no order.
  enum class PaymentStart { kStarted, kReplayed, kPinLocked, kOrderTaken };
  struct PaymentStartRequest {
    Bytes session_id;
    std::int64_t counter = 0;
    std::string phone;
    std::int64_t now = 0, lock_until = 0;
    int threshold = 0;
    const TransactionRow* claim = nullptr;
  };
  ApiResult<PaymentStart> startPayment(const PaymentStartRequest& r);
  // Removes a claim whose request was refused, or whose claimer died before
  // the acquirer could be asked (verifying and past its claim).
  ApiStatus dropVerifyingClaim(const std::string& order_no, const std::string& request_hash);
  // verifying -> pending with the verified content and the permit, and the
  // payer's PIN count and lock cleared (the PIN was right), in one transaction.
  ApiStatus markVerified(const TransactionRow& t, std::int64_t now);
  // Takes over an open (pending or unknown) order whose claim has run out; false if another holds it.
  ApiResult<bool> reclaimOpenOrder(const std::string& order_no, std::int64_t now, std::int64_t claimed_until);
  // Records the outcome (approved/declined with the receipt, or unknown with
  // the claim released) of an open order; nothing changes once it is final.
  ApiStatus recordOutcome(const TransactionRow& t, std::int64_t now);
  // Open orders nobody is working on (claim run out), oldest first, at most `limit`.
  ApiResult<std::vector<TransactionRow>> unclaimedOpenOrders(std::int64_t now, int limit);
  // Every open order (verifying, pending or unknown), oldest first, at most `limit`, with when it was made.
  struct OpenOrder {
    TransactionRow row;
    std::int64_t created_at = 0, updated_at = 0;
  };
  ApiResult<std::vector<OpenOrder>> openOrders(int limit);
  // The order numbers of every order in `state`, oldest first (reconciliation).
  ApiResult<std::vector<std::string>> ordersInState(const std::string& state);
  // How many orders are open, and how many of those the acquirer approved without a receipt yet.
  struct OpenOrderCounts {
    std::int64_t open = 0, approved_without_receipt = 0;
  };
  ApiResult<OpenOrderCounts> countOpenOrders();

  // Verifier key rotation: a verifier made again under the current key, kept
  // only if the stored one is still `old` (a concurrent renewal or a new
  // registration wins). True if it was kept.
  enum class Verifier { kPassword, kPin };
  ApiResult<bool> renewVerifier(Verifier which, const std::string& phone, ByteView old, ByteView renewed,
                                std::int64_t generation);
  // KEK rotation: users whose identity record is sealed under a KEK
  // generation older than `current`, phone after `after`, in phone order,
  // at most `limit`; and one sealed again, kept only if the stored record
  // is still `old`.
  struct SealedIdentity {
    std::string phone;
    Bytes identity;
    std::int64_t generation = 0;
  };
  ApiResult<std::vector<SealedIdentity>> identitiesToRewrap(std::int64_t current, const std::string& after,
                                                            int limit);
  ApiResult<bool> rewrapIdentity(const std::string& phone, ByteView old, ByteView renewed, std::int64_t generation);
  // What each verifier key and KEK generation still protects: users' and
  // pending registrations' verifiers and identity records, and sessions
  // that have not expired at `now`.
  ApiResult<std::vector<GenerationCount>> countKeyGenerations(std::int64_t now);

  // The confirmation code to send for a registration that expires at
  // `expires_at`, replacing any code of that phone not sent yet; claimed by
  // the caller when `claim.until` > now, else left to claimOutbox.
  ApiStatus addOutbox(const OutboxMessage& m, std::int64_t now, std::int64_t expires_at, const OutboxClaim& claim);
  // The oldest code not sent, not expired and claimed by nobody, now claimed
  // by `claim`: of appliances sharing the database, one sends each code.
  ApiResult<std::optional<OutboxMessage>> claimOutbox(std::int64_t now, const OutboxClaim& claim);
  // A code this claim holds that could not be sent: free for another try from `retry_at`.
  ApiStatus releaseOutbox(const std::string& id, const std::string& claimed_by, std::int64_t retry_at);
  // A sent code leaves the table with its phone number.
  ApiStatus markDelivered(const std::string& id);
  // Codes whose registration has expired are never sent: they go.
  ApiStatus purgeExpiredOutbox(std::int64_t now);

 private:
  // Lets a write discard its own changes (its condition was not met).
  class Undo {
   public:
    explicit Undo(std::function<void()> discard) : discard_(std::move(discard)) {}
    void operator()() {
      if (!done_) discard_();
      done_ = true;
    }
    bool done() const { return done_; }

   private:
    std::function<void()> discard_;
    bool done_ = false;
  };
  using Job = std::function<void(Poco::Data::Session&, Undo&)>;
  struct PendingWrite {
    const char* where;
    const Job* job;
    ApiStatus status;
  };

  // Every write is a job run in a transaction of its own, and its answer
  // leaves only once that is committed. SQLite: the jobs of the requests
  // that write at the same moment share one transaction and one commit
  // (group commit, each job in a savepoint of its own, so one job's failure
  // is only its own); one writer at a time, so no thread sleeps in SQLite's
  // busy handler. PostgreSQL: each job commits itself; the server flushes
  // concurrent commits together. A job that returns an error is undone.
  template <typename F>
  auto write(const char* where, F&& job)
      -> decltype(job(std::declval<Poco::Data::Session&>(), std::declval<Undo&>())) {
    using R = decltype(job(std::declval<Poco::Data::Session&>(), std::declval<Undo&>()));
    std::optional<R> result;
    ApiStatus done = runWrite(where, [&](Poco::Data::Session& s, Undo& undo) {
      result.emplace(job(s, undo));
      if (!result->ok()) undo();
    });
    if (!done.ok()) return std::move(done).error();
    return std::move(*result);
  }
  ApiStatus runWrite(const char* where, const Job& job);
  // A read on one of the store's connections; a database exception becomes
  // database_unavailable.
  template <typename F>
  auto read(const char* where, F&& query) -> decltype(query(std::declval<Poco::Data::Session&>())) {
    return guarded(where, [&] {
      auto lease = session();
      return query(lease->session());
    });
  }
  ApiResult<bool> spendRegistrationAttempt(const std::string& statement, const std::string& phone, int limit);
  void commitBatch(const std::vector<PendingWrite*>& batch);
  Poco::Data::Session& writer();

  Store(bool postgres, std::string url) : postgres_(postgres), url_(std::move(url)),
        writes_(std::make_unique<GroupCommit<PendingWrite>>()) {}
  ApiStatus migrate();
  DbConnections::Lease session();
  // The statement for `text` kept on the connection `s` is, prepared at its
  // first use there (gateway/prepared_statement.h: `params` and `results`
  // one letter each, 't' text or 'n' integer).
  PreparedStatement& prepared(Poco::Data::Session& s, const std::string& text, std::string_view params,
                              std::string_view results = "");
  bool spendAttemptIn(Poco::Data::Session& s, Guess guess, const std::string& phone, std::int64_t now,
                      std::int64_t lock_until, int threshold);
  void clearAttemptsIn(Poco::Data::Session& s, Guess guess, const std::string& phone);
  bool rememberNonceIn(Poco::Data::Session& s, const std::string& phone, ByteView nonce, std::int64_t now,
                       std::int64_t keep_after);
  std::string sql(const std::string& text) const;  // '?' to '$n' for PostgreSQL
  std::unique_ptr<DbConnections> connections_;
  bool postgres_;
  std::string url_;
  std::unique_ptr<GroupCommit<PendingWrite>> writes_;
  std::unique_ptr<DbConnection> writer_;  // SQLite: the batch leader's only
};

}  // namespace mpay::gateway
