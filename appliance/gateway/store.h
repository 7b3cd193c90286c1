// The gateway's database (patent ⑤): users, pending registrations,
// sessions, login nonces, transactions and the confirmation-code outbox.
// SQLite by default (WAL, synchronous=FULL), PostgreSQL when db_url is a
// postgresql:// URL; one schema, migrations applied at open. No password,
// PIN or identity number is stored in clear: only verifiers (HMAC under a
// token key) and ciphertexts under the token's KEK.
#pragma once
#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "gateway/api_error.h"

namespace mpay::gateway {

struct UserCredentials {
  Bytes certificate, salt, password_verifier, pin_verifier, identity;
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
  int attempts = 0;
  std::int64_t expires_at = 0;
};

struct SessionRow {
  Bytes session_id;
  std::string phone;
  Bytes wrapped_keys;
  std::int64_t expires_at = 0;
  std::int64_t last_counter = 0;
};

struct TransactionRow {
  std::string order_no, request_hash, phone;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string state;  // pending, approved, declined, unknown (acquirer outcome not known yet)
  std::string transaction_no;
  Bytes receipt, receipt_signature;
};

struct OutboxMessage {
  std::string id, phone, code;
};

// postgresql://user:password@host:port/database[?sslmode=...] to libpq's
// "key=value" form, which Poco's PostgreSQL connector requires.
ApiResult<std::string> postgresConnectionString(const std::string& url);

class Store {
 public:
  static ApiResult<std::unique_ptr<Store>> open(const std::string& url);
  bool isPostgres() const { return postgres_; }
  int schemaVersion();

  ApiStatus ping();
  ApiResult<bool> userExists(const std::string& phone);
  ApiStatus putRegistration(const PendingRegistration& r);  // replaces a pending one for the phone
  ApiResult<std::optional<PendingRegistration>> findRegistration(const std::string& phone);
  ApiStatus countCodeAttempt(const std::string& phone);
  // Moves the pending registration into users, in one transaction; false if it was gone.
  ApiResult<bool> activate(const std::string& phone, std::int64_t now);

  ApiResult<std::optional<UserRow>> findUser(const std::string& phone);
  ApiStatus recordLoginFailure(const std::string& phone, std::int64_t lock_until_if_over, int threshold);
  ApiStatus clearLoginFailures(const std::string& phone);
  ApiStatus recordPinFailure(const std::string& phone, std::int64_t lock_until_if_over, int threshold);
  ApiStatus clearPinFailures(const std::string& phone);
  // False if this (phone, nonce) was seen before. Old nonces are purged.
  ApiResult<bool> rememberNonce(const std::string& phone, ByteView nonce, std::int64_t now, std::int64_t keep_after);

  ApiStatus putSession(const SessionRow& s);
  ApiResult<std::optional<SessionRow>> findSession(ByteView session_id);
  // True if `counter` is above the session's last counter (and now recorded).
  ApiResult<bool> advanceCounter(ByteView session_id, std::int64_t counter);

  ApiResult<std::optional<TransactionRow>> findTransaction(const std::string& order_no);
  ApiResult<bool> insertTransaction(const TransactionRow& t, std::int64_t now);  // false: order exists
  ApiStatus updateTransaction(const TransactionRow& t, std::int64_t now);

  ApiStatus addOutbox(const OutboxMessage& m, std::int64_t now);
  ApiResult<std::vector<OutboxMessage>> pendingOutbox();
  ApiStatus markDelivered(const std::string& id, std::int64_t now);

 private:
  Store(std::unique_ptr<Poco::Data::SessionPool> pool, bool postgres) : pool_(std::move(pool)), postgres_(postgres) {}
  ApiStatus migrate();
  Poco::Data::Session session();
  std::string sql(const std::string& text) const;  // '?' to '$n' for PostgreSQL
  std::unique_ptr<Poco::Data::SessionPool> pool_;
  bool postgres_;
};

}  // namespace mpay::gateway
