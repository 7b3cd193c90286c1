#include "gateway/store.h"

#include <sqlite3.h>

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/DataException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "gateway/json_fields.h"
#include "gateway/store_sql.h"

namespace mpay::gateway {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;

// Migrations, in order; each runs once, recorded in schema_version.
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      // 1: the initial schema. Binary values are base64url text (portable across both backends).
      "CREATE TABLE users (phone TEXT PRIMARY KEY, certificate TEXT NOT NULL, salt TEXT NOT NULL,"
      " password_verifier TEXT NOT NULL, pin_verifier TEXT NOT NULL, identity TEXT NOT NULL,"
      " failed_logins INTEGER NOT NULL DEFAULT 0, login_locked_until BIGINT NOT NULL DEFAULT 0,"
      " failed_pins INTEGER NOT NULL DEFAULT 0, pin_locked_until BIGINT NOT NULL DEFAULT 0,"
      " created_at BIGINT NOT NULL);"
      "CREATE TABLE registrations (phone TEXT PRIMARY KEY, code_hash TEXT NOT NULL,"
      " registration_file TEXT NOT NULL, certificate TEXT NOT NULL, salt TEXT NOT NULL,"
      " password_verifier TEXT NOT NULL, pin_verifier TEXT NOT NULL, identity TEXT NOT NULL,"
      " attempts INTEGER NOT NULL DEFAULT 0, expires_at BIGINT NOT NULL);"
      "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, phone TEXT NOT NULL, wrapped_keys TEXT NOT NULL,"
      " expires_at BIGINT NOT NULL, last_counter BIGINT NOT NULL DEFAULT 0);"
      "CREATE TABLE login_nonces (phone TEXT NOT NULL, nonce TEXT NOT NULL, seen_at BIGINT NOT NULL,"
      " PRIMARY KEY (phone, nonce));"
      "CREATE TABLE transactions (order_no TEXT PRIMARY KEY, request_hash TEXT NOT NULL, phone TEXT NOT NULL,"
      " amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, state TEXT NOT NULL,"
      " transaction_no TEXT NOT NULL DEFAULT '', receipt TEXT NOT NULL DEFAULT '',"
      " receipt_signature TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
      "CREATE TABLE outbox (id TEXT PRIMARY KEY, phone TEXT NOT NULL, code TEXT NOT NULL,"
      " created_at BIGINT NOT NULL, delivered_at BIGINT NOT NULL DEFAULT 0);",
      // 2: one order, one outcome: the content key, what the completer needs, and claims.
      "ALTER TABLE transactions ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE transactions ADD COLUMN content TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE transactions ADD COLUMN permit TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE transactions ADD COLUMN acquirer_result TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE transactions ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;"
      "CREATE INDEX transactions_open ON transactions (state, claimed_until);"
      // ... and activation ends only when the phone has proven the SMS code.
      "ALTER TABLE registrations ADD COLUMN proof_hash TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE registrations ADD COLUMN confirm_attempts INTEGER NOT NULL DEFAULT 0;"
      // ... and /healthz proves the database commits, not only that it answers.
      "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL);"
      "INSERT INTO health_probe (id, at) VALUES (1, 0);",
      // 3: logins for numbers with no user are counted and locked like a user's, so that the
      // lockout does not tell which numbers are registered.
      "CREATE TABLE login_guesses_without_user (phone TEXT PRIMARY KEY,"
      " failed_logins INTEGER NOT NULL DEFAULT 0, login_locked_until BIGINT NOT NULL DEFAULT 0,"
      " created_at BIGINT NOT NULL);",
      // 4: the completer's and the notifier's polls find the few unfinished orders and unsent
      // codes in an index of those alone; over (state, claimed_until) the planner scanned the
      // table, every poll, once most orders were final (mpay-bench --preload, EXPLAIN).
      "DROP INDEX transactions_open;"
      "CREATE INDEX transactions_unfinished ON transactions (updated_at)"
      " WHERE state IN ('verifying', 'pending', 'unknown');"
      "CREATE INDEX outbox_undelivered ON outbox (created_at) WHERE delivered_at = 0;",
      // 5: a code is sent by one appliance (claimed_by, claimed_until), never after its
      // registration expired (expires_at), and leaves the table once sent: the phone numbers
      // of codes sent before go now; a code waiting to be sent expires with its registration.
      "DELETE FROM outbox WHERE delivered_at <> 0;"
      "ALTER TABLE outbox ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';"
      "UPDATE outbox SET expires_at = COALESCE((SELECT r.expires_at FROM registrations r"
      " WHERE r.phone = outbox.phone), 0);",
      // 6: the verifier key rotates: each verifier says which generation made it; the
      // counts per generation (when the old key may go) come from these indexes.
      "ALTER TABLE users ADD COLUMN password_verifier_generation INTEGER NOT NULL DEFAULT 1;"
      "ALTER TABLE users ADD COLUMN pin_verifier_generation INTEGER NOT NULL DEFAULT 1;"
      "ALTER TABLE registrations ADD COLUMN verifier_generation INTEGER NOT NULL DEFAULT 1;"
      "CREATE INDEX users_password_verifier_generation ON users (password_verifier_generation);"
      "CREATE INDEX users_pin_verifier_generation ON users (pin_verifier_generation);",
      // 7: the KEK rotates: each sealed blob says which generation sealed it.
      "ALTER TABLE users ADD COLUMN identity_kek_generation INTEGER NOT NULL DEFAULT 1;"
      "ALTER TABLE registrations ADD COLUMN identity_kek_generation INTEGER NOT NULL DEFAULT 1;"
      "ALTER TABLE sessions ADD COLUMN kek_generation INTEGER NOT NULL DEFAULT 1;"
      "CREATE INDEX users_identity_kek_generation ON users (identity_kek_generation);"
      "CREATE INDEX sessions_expiry ON sessions (expires_at, kek_generation);"
      "CREATE INDEX registrations_expiry ON registrations (expires_at);",
  };
  return m;
}

void registerConnectors() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });
}

}  // namespace

ApiError dbError(const std::string& where, const Poco::Exception& e) {
  log::error("event=db_error where=" + where + " detail=\"" + e.displayText() + "\"");
  return apiError(ApiCode::kDatabaseUnavailable, "database unavailable");
}

Bytes unb64(const std::string& s) {
  auto r = unbase64url(s, 1 << 20);
  return r.ok() ? r.value() : Bytes{};
}

// postgresql://[user[:password]@]host[:port][,host[:port]...]/db[?param=value&...]
// A list of hosts is libpq's multi-host form: with target_session_attrs=
// read-write a new connection goes to whichever of them is the primary, so
// a gateway follows a promoted standby by reconnecting (docs/operations.md,
// "A cluster"). Poco::URI takes one host only: the authority is split here
// and each part decoded by Poco.
ApiResult<std::string> postgresConnectionString(const std::string& url) {
  try {
    const auto scheme_end = url.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
    if (scheme != "postgresql" && scheme != "postgres") return apiError(ApiCode::kInternal, "not a postgresql:// URL");
    const std::string rest = url.substr(scheme_end + 3);
    const auto path_at = rest.find_first_of("/?");
    const std::string authority = rest.substr(0, path_at);
    // What follows the authority parses as a one-host URL: path and query.
    Poco::URI tail("postgresql://h" + (path_at == std::string::npos ? std::string() : rest.substr(path_at)));
    // Values are quoted for libpq: backslash and single quote escaped.
    auto quote = [](const std::string& v) {
      std::string out = "'";
      for (char c : v) {
        if (c == '\\' || c == '\'') out += '\\';
        out += c;
      }
      return out + "'";
    };
    std::string user, password, hosts, ports;
    const auto at = authority.rfind('@');
    const std::string info = at == std::string::npos ? "" : authority.substr(0, at);
    const auto colon = info.find(':');
    Poco::URI::decode(info.substr(0, colon), user);
    if (colon != std::string::npos) Poco::URI::decode(info.substr(colon + 1), password);
    // Hosts split by hand: an empty one (a doubled or trailing comma) is refused.
    const std::string list = at == std::string::npos ? authority : authority.substr(at + 1);
    std::size_t from = 0, index = 0;
    while (from <= list.size()) {
      const std::size_t comma = std::min(list.find(',', from), list.size());
      const std::string entry = list.substr(from, comma - from);
      from = comma + 1;
      ++index;
      std::string host = entry, port = "5432";
      const auto bracket = entry.find(']');
      const auto port_at = entry.find(':', bracket == std::string::npos ? 0 : bracket);
      if (port_at != std::string::npos) {
        host = entry.substr(0, port_at);
        port = entry.substr(port_at + 1);
      }
      if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      const bool numeric = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
      // The entry is not echoed: a password with an unencoded '/', '?' or '@'
      // would land here, and errors are logged.
      if (host.empty() || host.find_first_of(" '\\,") != std::string::npos || !numeric || std::stoi(port) == 0 ||
          std::stoi(port) > 65535)
        return apiError(ApiCode::kInternal, "bad PostgreSQL host " + std::to_string(index) +
                                                " in the URL (percent-encode '/', '?', '@' and ':' in a password)");
      hosts += (hosts.empty() ? "" : ",") + host;
      ports += (ports.empty() ? "" : ",") + port;
    }
    if (hosts.empty()) return apiError(ApiCode::kInternal, "no host in the PostgreSQL URL");
    std::string out = "host=" + quote(hosts) + " port=" + quote(ports) +
                      " dbname=" + quote(tail.getPath().substr(tail.getPath().empty() ? 0 : 1));
    if (!user.empty()) out += " user=" + quote(user);
    if (!password.empty()) out += " password=" + quote(password);
    bool gss_set = false;
    for (const auto& [key, value] : tail.getQueryParameters()) {
      if (key != "sslmode" && key != "connect_timeout" && key != "sslrootcert" && key != "gssencmode" &&
          key != "passfile" && key != "target_session_attrs")
        return apiError(ApiCode::kInternal, "unsupported PostgreSQL URL parameter " + key);
      gss_set = gss_set || key == "gssencmode";
      out += " " + key + "=" + quote(value);
    }
    // Password (SCRAM) over TLS is the appliance's way in; libpq's GSSAPI
    // probing would need Kerberos files and interface ioctls the sandbox denies.
    if (!gss_set) out += " gssencmode='disable'";
    return out;
  } catch (const Poco::Exception& e) {
    return apiError(ApiCode::kInternal, "bad PostgreSQL URL: " + e.displayText());
  }
}

ApiResult<std::unique_ptr<Store>> Store::open(const std::string& url, int request_workers) {
  registerConnectors();
  const int most = request_workers + kBackgroundSessions;
  const bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  std::unique_ptr<Store> store(new Store(postgres, postgres ? "" : url));
  Store* self = store.get();
  auto translate = [self](const std::string& text) { return self->sql(text); };
  try {
    if (postgres) {
      auto connection = postgresConnectionString(url);
      if (!connection) return std::move(connection).error();
      store->connections_ = std::make_unique<DbConnections>("PostgreSQL", connection.value(), most, translate);
    } else {
      // Another process's writer (mpay-admin) is waited for, not failed on:
      // a C call once per connection, where a PRAGMA would be parsed on
      // every use. synchronous=FULL is the writer's (commitBatch): reads do
      // not commit.
      store->connections_ = std::make_unique<DbConnections>("SQLite", url, most, translate, [](Session& s) {
        sqlite3_busy_timeout(Poco::Data::SQLite::Utility::dbHandle(s), 5000);
      });
      auto lease = store->session();
      lease->session() << "PRAGMA journal_mode=WAL", now;  // persistent: set once for the file
    }
  } catch (const Poco::Exception& e) {
    return dbError("open", e);
  }
  MPAY_RETURN_IF_ERROR(store->migrate());
  return store;
}

// The pool is sized for every thread that can ask at once; should one more
// ask (a connection being replaced), it waits a moment rather than fail the
// request.
DbConnections::Lease Store::session() { return connections_->get(); }

PreparedStatement& Store::prepared(Session& s, const std::string& text, std::string_view params,
                                   std::string_view results) {
  DbConnection* connection = connections_->find(s);
  if (!connection) throw Poco::IllegalStateException("not one of the store's connections");
  return connection->prepared(text, params, results);
}

std::string Store::sql(const std::string& text) const {
  if (!postgres_) return text;
  std::string out;
  int n = 0;
  for (char c : text) {
    if (c == '?') out += "$" + std::to_string(++n);
    else out += c;
  }
  return out;
}

ApiStatus Store::migrate() {
  return read("migrate", [&](Poco::Data::Session& s) -> ApiStatus {
    s << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
    int version = 0;
    s << "SELECT COALESCE(MAX(version), 0) FROM schema_version", into(version), now;
    for (std::size_t i = static_cast<std::size_t>(version); i < migrations().size(); ++i) {
      s.begin();
      std::string all = migrations()[i];
      std::size_t start = 0;
      while (start < all.size()) {
        std::size_t end = all.find(';', start);
        std::string one = all.substr(start, end - start);
        if (one.find_first_not_of(" \n") != std::string::npos) s << one, now;
        start = end == std::string::npos ? all.size() : end + 1;
      }
      int next = static_cast<int>(i + 1);
      s << sql("INSERT INTO schema_version (version) VALUES (?)"), use(next), now;
      s.commit();
      log::info("event=db_migrated version=" + std::to_string(next));
    }
    return {};
  });
}

int Store::schemaVersion() {
  try {
    auto lease = session();
    Session& s = lease->session();
    int version = 0;
    s << "SELECT COALESCE(MAX(version), 0) FROM schema_version", into(version), now;
    return version;
  } catch (const Poco::Exception&) {
    return -1;
  }
}

ApiStatus Store::probeWrite(std::int64_t at) {
  return write("probeWrite", [&](Session& s, Undo&) -> ApiStatus {
    Poco::Int64 now_v = at;
    s << sql("UPDATE health_probe SET at = ? WHERE id = 1"), use(now_v), now;
    return {};
  });
}

ApiResult<bool> Store::userExists(const std::string& phone) {
  return read("userExists", [&](Poco::Data::Session& s) -> ApiResult<bool> {
    int count = 0;
    std::string p = phone;
    s << sql("SELECT COUNT(*) FROM users WHERE phone = ?"), into(count), use(p), now;
    return count > 0;
  });
}

ApiStatus Store::putRegistration(const PendingRegistration& r) {
  return write("putRegistration", [&](Session& s, Undo&) -> ApiStatus {
    std::string phone = r.phone, hash = r.code_hash, file = base64url(r.registration_file),
                cert = base64url(r.credentials.certificate), salt = base64url(r.credentials.salt),
                pw = base64url(r.credentials.password_verifier), pin = base64url(r.credentials.pin_verifier),
                identity = base64url(r.credentials.identity), proof = r.proof_hash;
    Poco::Int64 expires = r.expires_at;
    // One signer call made both verifiers: one generation.
    Poco::Int64 generation = r.credentials.password_verifier_generation,
                kek_generation = r.credentials.identity_kek_generation;
    s << sql("DELETE FROM registrations WHERE phone = ?"), use(phone), now;
    s << sql("INSERT INTO registrations (phone, code_hash, registration_file, certificate, salt, password_verifier,"
             " pin_verifier, identity, attempts, expires_at, proof_hash, verifier_generation, identity_kek_generation)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"),
        use(phone), use(hash), use(file), use(cert), use(salt), use(pw), use(pin), use(identity), use(expires),
        use(proof), use(generation), use(kek_generation), now;
    return {};
  });
}

ApiResult<std::optional<PendingRegistration>> Store::findRegistration(const std::string& phone) {
  return read("findRegistration", [&](Poco::Data::Session& s) -> ApiResult<std::optional<PendingRegistration>> {
    auto& q = prepared(s,
                       "SELECT code_hash, registration_file, certificate, salt, password_verifier, pin_verifier,"
                       " identity, attempts, expires_at, proof_hash, confirm_attempts, verifier_generation,"
                       " identity_kek_generation FROM registrations WHERE phone = ?",
                       "t", "tttttttnntnnn");
    if (q.run(phone) == 0) return std::optional<PendingRegistration>();
    PendingRegistration r{phone,
                          q.text(0),
                          unb64(q.text(1)),
                          {unb64(q.text(2)), unb64(q.text(3)), unb64(q.text(4)), unb64(q.text(5)), unb64(q.text(6)),
                           q.number(11), q.number(11), q.number(12)},
                          static_cast<int>(q.number(7)),
                          q.number(8),
                          q.text(9),
                          static_cast<int>(q.number(10))};
    return std::optional<PendingRegistration>(std::move(r));
  });
}

ApiResult<bool> Store::spendCodeAttempt(const std::string& phone, int limit) {
  return spendRegistrationAttempt("UPDATE registrations SET attempts = attempts + 1 WHERE phone = ? AND attempts < ?",
                                  phone, limit);
}

ApiResult<bool> Store::spendConfirmAttempt(const std::string& phone, int limit) {
  return spendRegistrationAttempt(
      "UPDATE registrations SET confirm_attempts = confirm_attempts + 1 WHERE phone = ? AND confirm_attempts < ?",
      phone, limit);
}

ApiResult<bool> Store::spendRegistrationAttempt(const std::string& statement, const std::string& phone, int limit) {
  return write("spendRegistrationAttempt", [&](Session& s, Undo&) -> ApiResult<bool> {
    std::string p = phone;
    int most = limit;
    Statement st(s);
    st << sql(statement), use(p), use(most);
    return st.execute() == 1;
  });
}

ApiResult<bool> Store::confirmRegistration(const std::string& phone, std::int64_t at) {
  return write("confirmRegistration", [&](Session& s, Undo&) -> ApiResult<bool> {
    std::string p = phone;
    Poco::Int64 created = at;
    Statement move(s);
    move << sql("INSERT INTO users (phone, certificate, salt, password_verifier, pin_verifier, identity, created_at,"
                " password_verifier_generation, pin_verifier_generation, identity_kek_generation)"
                " SELECT phone, certificate, salt, password_verifier, pin_verifier, identity, ?,"
                " verifier_generation, verifier_generation, identity_kek_generation FROM registrations"
                " WHERE phone = ? AND expires_at > ? ON CONFLICT DO NOTHING"),
        use(created), use(p), use(created);
    const std::size_t moved = move.execute();
    s << sql("DELETE FROM registrations WHERE phone = ?"), use(p), now;
    return moved == 1;
  });
}

ApiResult<std::optional<UserRow>> Store::findUser(const std::string& phone) {
  return read("findUser", [&](Poco::Data::Session& s) -> ApiResult<std::optional<UserRow>> {
    auto& q = prepared(s,
                       "SELECT certificate, salt, password_verifier, pin_verifier, identity, failed_logins,"
                       " login_locked_until, failed_pins, pin_locked_until, password_verifier_generation,"
                       " pin_verifier_generation, identity_kek_generation FROM users WHERE phone = ?",
                       "t", "tttttnnnnnnn");
    if (q.run(phone) == 0) return std::optional<UserRow>();
    return std::optional<UserRow>(
        UserRow{phone,
                {unb64(q.text(0)), unb64(q.text(1)), unb64(q.text(2)), unb64(q.text(3)), unb64(q.text(4)),
                 q.number(9), q.number(10), q.number(11)},
                static_cast<int>(q.number(5)), q.number(6), static_cast<int>(q.number(7)), q.number(8)});
  });
}

bool Store::rememberNonceIn(Session& s, const std::string& phone, ByteView nonce, std::int64_t at,
                            std::int64_t keep_after) {
  prepared(s, "DELETE FROM login_nonces WHERE seen_at < ?", "n").run(keep_after);
  return prepared(s, "INSERT INTO login_nonces (phone, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", "ttn")
             .run(phone, base64url(nonce), at) == 1;
}

ApiResult<Store::LoginStart> Store::startLogin(const LoginStartRequest& r) {
  return write("startLogin", [&](Session& s, Undo& undo) -> ApiResult<LoginStart> {
    if (!rememberNonceIn(s, r.phone, r.request_hash, r.now, r.keep_after)) {
      undo();
      return LoginStart::kReplayed;
    }
    // Locked: the request is still spent.
    if (!spendAttemptIn(s, r.guess, r.phone, r.now, r.lock_until, r.threshold)) return LoginStart::kLocked;
    return LoginStart::kStarted;
  });
}

ApiResult<bool> Store::finishLogin(Guess guess, const std::string& phone, ByteView nonce, std::int64_t at,
                                   std::int64_t keep_after, const SessionRow& r) {
  return write("finishLogin", [&](Session& s, Undo& undo) -> ApiResult<bool> {
    if (!rememberNonceIn(s, phone, nonce, at, keep_after)) {
      undo();
      return false;
    }
    clearAttemptsIn(s, guess, phone);
    prepared(s,
             "INSERT INTO sessions (session_id, phone, wrapped_keys, expires_at, last_counter, kek_generation)"
             " VALUES (?, ?, ?, ?, 0, ?)",
             "tttnn")
        .run(base64url(r.session_id), r.phone, base64url(r.wrapped_keys), r.expires_at, r.kek_generation);
    return true;
  });
}

ApiResult<std::optional<SessionRow>> Store::findSession(ByteView session_id) {
  return read("findSession", [&](Poco::Data::Session& s) -> ApiResult<std::optional<SessionRow>> {
    auto& q = prepared(s,
                       "SELECT phone, wrapped_keys, expires_at, last_counter, kek_generation FROM sessions"
                       " WHERE session_id = ?",
                       "t", "ttnnn");
    if (q.run(base64url(session_id)) == 0) return std::optional<SessionRow>();
    return std::optional<SessionRow>(SessionRow{Bytes(session_id.begin(), session_id.end()), q.text(0),
                                                unb64(q.text(1)), q.number(2), q.number(3), q.number(4)});
  });
}

ApiStatus Store::addOutbox(const OutboxMessage& m, std::int64_t at, std::int64_t expires_at, const OutboxClaim& claim) {
  return write("addOutbox", [&](Session& s, Undo&) -> ApiStatus {
    std::string id = m.id, phone = m.phone, code = m.code, by = claim.by;
    Poco::Int64 created = at, expires = expires_at, until = claim.until;
    // The phone registered again: its earlier code would only confuse it.
    s << sql("DELETE FROM outbox WHERE phone = ? AND delivered_at = 0"), use(phone), now;
    s << sql("INSERT INTO outbox (id, phone, code, created_at, expires_at, claimed_by, claimed_until)"
             " VALUES (?, ?, ?, ?, ?, ?, ?)"),
        use(id), use(phone), use(code), use(created), use(expires), use(by), use(until), now;
    return {};
  });
}

ApiResult<std::optional<OutboxMessage>> Store::claimOutbox(std::int64_t at, const OutboxClaim& claim) {
  return write("claimOutbox", [&](Session& s, Undo&) -> ApiResult<std::optional<OutboxMessage>> {
    std::vector<std::string> ids, phones, codes;
    Poco::Int64 now_v = at, until = claim.until;
    std::string by = claim.by;
    // A few candidates: another appliance may claim the first meanwhile.
    s << sql("SELECT id, phone, code FROM outbox WHERE delivered_at = 0 AND expires_at > ? AND claimed_until <= ?"
             " ORDER BY created_at, id LIMIT 4"),
        into(ids), into(phones), into(codes), use(now_v), use(now_v), now;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      Statement take(s);
      take << sql("UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ? AND delivered_at = 0"
                  " AND claimed_until <= ?"),
          use(by), use(until), use(ids[i]), use(now_v);
      if (take.execute() == 1) return std::optional<OutboxMessage>(OutboxMessage{ids[i], phones[i], codes[i]});
    }
    return std::optional<OutboxMessage>();
  });
}

ApiStatus Store::releaseOutbox(const std::string& id, const std::string& claimed_by, std::int64_t retry_at) {
  return write("releaseOutbox", [&](Session& s, Undo&) -> ApiStatus {
    std::string i = id, by = claimed_by;
    Poco::Int64 at = retry_at;
    // Only the holder's claim: one that ran out may be another appliance's now.
    s << sql("UPDATE outbox SET claimed_until = ? WHERE id = ? AND claimed_by = ?"), use(at), use(i), use(by), now;
    return {};
  });
}

ApiStatus Store::markDelivered(const std::string& id) {
  return write("markDelivered", [&](Session& s, Undo&) -> ApiStatus {
    std::string i = id;
    // The code is not kept once it has left, nor the number it went to.
    s << sql("DELETE FROM outbox WHERE id = ?"), use(i), now;
    return {};
  });
}

ApiStatus Store::purgeExpiredOutbox(std::int64_t at) {
  return write("purgeExpiredOutbox", [&](Session& s, Undo&) -> ApiStatus {
    Poco::Int64 now_v = at;
    s << sql("DELETE FROM outbox WHERE expires_at <= ?"), use(now_v), now;
    return {};
  });
}

ApiResult<bool> Store::renewVerifier(Verifier which, const std::string& phone, ByteView old, ByteView renewed,
                                     std::int64_t generation) {
  return write("renewVerifier", [&](Session& s, Undo&) -> ApiResult<bool> {
    const char* statement =
        which == Verifier::kPassword
            ? "UPDATE users SET password_verifier = ?, password_verifier_generation = ?"
              " WHERE phone = ? AND password_verifier = ? AND password_verifier_generation < ?"
            : "UPDATE users SET pin_verifier = ?, pin_verifier_generation = ?"
              " WHERE phone = ? AND pin_verifier = ? AND pin_verifier_generation < ?";
    // Only forward: a signer worker behind on the rotation state never moves a verifier back.
    return prepared(s, statement, "tnttn").run(base64url(renewed), generation, phone, base64url(old), generation) == 1;
  });
}

ApiResult<std::vector<Store::SealedIdentity>> Store::identitiesToRewrap(std::int64_t current,
                                                                       const std::string& after, int limit) {
  return read("identitiesToRewrap", [&](Poco::Data::Session& s) -> ApiResult<std::vector<SealedIdentity>> {
    Poco::Int64 wanted = current;
    std::string from = after;
    int most = limit;
    std::vector<std::string> phones, identities;
    std::vector<Poco::Int64> generations;
    s << sql("SELECT phone, identity, identity_kek_generation FROM users"
             " WHERE identity_kek_generation < ? AND phone > ? ORDER BY phone LIMIT ?"),
        into(phones), into(identities), into(generations), use(wanted), use(from), use(most), now;
    std::vector<SealedIdentity> out;
    for (std::size_t i = 0; i < phones.size(); ++i) out.push_back({phones[i], unb64(identities[i]), generations[i]});
    return out;
  });
}

ApiResult<bool> Store::rewrapIdentity(const std::string& phone, ByteView old, ByteView renewed,
                                      std::int64_t generation) {
  return write("rewrapIdentity", [&](Session& s, Undo&) -> ApiResult<bool> {
    return prepared(s,
                    "UPDATE users SET identity = ?, identity_kek_generation = ?"
                    " WHERE phone = ? AND identity = ? AND identity_kek_generation < ?",
                    "tnttn")
               .run(base64url(renewed), generation, phone, base64url(old), generation) == 1;
  });
}

ApiResult<std::vector<GenerationCount>> Store::countKeyGenerations(std::int64_t at) {
  return read("countKeyGenerations", [&](Poco::Data::Session& s) -> ApiResult<std::vector<GenerationCount>> {
    std::map<std::tuple<std::string, std::string, std::int64_t>, std::int64_t> counts;
    // Each query: generation, count, grouped by generation.
    // `since`: the query's one placeholder (none when 0).
    const auto add = [&](const std::string& key, const std::string& which, const std::string& query,
                         Poco::Int64 since = 0) {
      std::vector<Poco::Int64> generations, rows;
      if (since != 0)
        s << sql(query), into(generations), into(rows), use(since), now;
      else
        s << query, into(generations), into(rows), now;
      for (std::size_t i = 0; i < generations.size(); ++i) counts[{key, which, generations[i]}] += rows[i];
    };
    // Registrations before users (a confirm in between moves a row to where
    // it is counted next); an expired one can never be confirmed and holds
    // nothing back, with a grace for appliances whose clocks differ.
    constexpr Poco::Int64 kClockGrace = 300;
    for (const char* which : {"password", "pin"})
      add("verifier", which,
          "SELECT verifier_generation, COUNT(*) FROM registrations WHERE expires_at > ? GROUP BY verifier_generation",
          at - kClockGrace);
    add("kek", "identity",
        "SELECT identity_kek_generation, COUNT(*) FROM registrations WHERE expires_at > ?"
        " GROUP BY identity_kek_generation",
        at - kClockGrace);
    for (const char* which : {"password", "pin"}) {
      const std::string column = std::string(which) + "_verifier_generation";
      add("verifier", which, "SELECT " + column + ", COUNT(*) FROM users GROUP BY " + column);
    }
    add("kek", "identity", "SELECT identity_kek_generation, COUNT(*) FROM users GROUP BY identity_kek_generation");
    add("kek", "session", "SELECT kek_generation, COUNT(*) FROM sessions WHERE expires_at > ? GROUP BY kek_generation",
        at);
    std::vector<GenerationCount> out;
    for (const auto& [key, count] : counts) out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
    return out;
  });
}

}  // namespace mpay::gateway
