#include "bench/preload.h"

#include <Poco/Data/Session.h>
#include <Poco/Exception.h>

#include <ctime>

#include "gateway/store.h"

namespace mpay::bench {
namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

bool isPostgres(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

// The schema made (Store::open migrates it), then a session of our own.
Result<Poco::Data::Session> connect(const std::string& url) {
  auto store = gateway::Store::open(url);
  if (!store) return fail(ErrorCode::kIo, "cannot open the database: " + store.error().message);
  try {
    if (!isPostgres(url)) return Poco::Data::Session("SQLite", url);
    auto connection = gateway::postgresConnectionString(url);
    if (!connection) return fail(ErrorCode::kConfig, connection.error().message);
    return Poco::Data::Session("PostgreSQL", connection.value());
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kIo, "cannot connect: " + e.displayText());
  }
}

// Column values of a real user's size: a certificate of about 450 bytes and
// verifiers of 32, all base64url as the store keeps them.
std::string filler(std::size_t n) { return std::string(n, 'A'); }

}  // namespace

Result<std::int64_t> preloadUsers(const std::string& url, std::int64_t target) {
  MPAY_ASSIGN_OR_RETURN(Poco::Data::Session s, connect(url));
  const bool pg = isPostgres(url);
  try {
    Poco::Int64 have = 0;
    s << "SELECT COUNT(*) FROM users WHERE phone LIKE 'syn-%'", into(have), now;
    const std::int64_t add = target - have;
    if (add <= 0) return std::int64_t{have};
    const std::string tag = "syn-" + std::to_string(std::time(nullptr)) + "-";
    const std::string from = std::to_string(have + 1), to = std::to_string(have + add);
    const std::string seq = "WITH RECURSIVE seq(n) AS (SELECT " + from + " UNION ALL SELECT n + 1 FROM seq WHERE n < " +
                            to + ") ";
    const std::string phone = "'" + tag + "' || n";
    const std::string now_s = std::to_string(std::time(nullptr));
    // A random session id per user, as a login makes one: lookups land
    // anywhere in the index, not at its end.
    const std::string random_id = pg ? "md5(random()::text || n)" : "lower(hex(randomblob(16)))";
    s.begin();
    s << seq + "INSERT INTO users (phone, certificate, salt, password_verifier, pin_verifier, identity, created_at)"
                " SELECT " + phone + ", '" + filler(600) + "', '" + filler(22) + "', '" + filler(43) + "', '" +
             filler(43) + "', '" + filler(120) + "', " + now_s + " FROM seq",
        now;
    s << seq + "INSERT INTO sessions (session_id, phone, wrapped_keys, expires_at, last_counter) SELECT " + random_id +
             ", " + phone + ", '" + filler(120) + "', " + now_s + " + 3600, 0 FROM seq",
        now;
    s.commit();
    // The planner sees the new sizes at once. On PostgreSQL the new rows are
    // also vacuumed (their hint bits set now, not by the first payments
    // that read them) and a checkpoint is asked for, so that the pay phase
    // does not also pay for writing a freshly loaded gigabyte back.
    for (const char* table : {"users", "sessions"})
      s << std::string(pg ? "VACUUM ANALYZE " : "ANALYZE ") + table, now;
    if (pg) {
      try {
        s << "CHECKPOINT", now;
      } catch (const Poco::Exception&) {
        // Only a superuser or pg_checkpoint may: the checkpointer then runs on its own schedule.
      }
    }
    return target;
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kIo, "preload: " + e.displayText());
  }
}

Result<std::vector<std::pair<std::string, std::string>>> hotQueryPlans(const std::string& url) {
  MPAY_ASSIGN_OR_RETURN(Poco::Data::Session s, connect(url));
  const bool pg = isPostgres(url);
  // The store's lookups with their keys filled in (store.cpp, store_orders.cpp).
  const std::vector<std::pair<std::string, std::string>> queries = {
      {"user by number (login, payment)", "SELECT certificate, failed_pins FROM users WHERE phone = 'x'"},
      {"pending registration (login)", "SELECT code_hash FROM registrations WHERE phone = 'x'"},
      {"session by id (payment)", "SELECT phone, last_counter FROM sessions WHERE session_id = 'x'"},
      {"counter spent (payment)", "UPDATE sessions SET last_counter = 2 WHERE session_id = 'x' AND last_counter < 2"},
      {"order by number (payment)", "SELECT state FROM transactions WHERE order_no = 'x'"},
      {"nonce seen (login)", "SELECT seen_at FROM login_nonces WHERE phone = 'x' AND nonce = 'y'"},
      {"open orders (completer)",
       "SELECT order_no FROM transactions WHERE state IN ('verifying', 'pending', 'unknown') AND claimed_until <= 0"
       " ORDER BY updated_at LIMIT 16"},
      {"codes to send (notifier)",
       "SELECT id, phone, code FROM outbox WHERE delivered_at = 0 AND expires_at > 0 AND claimed_until <= 0"
       " ORDER BY created_at, id LIMIT 4"},
  };
  std::vector<std::pair<std::string, std::string>> out;
  try {
    for (const auto& [name, sql] : queries) {
      std::string plan;
      if (pg) {
        std::vector<std::string> lines;
        s << "EXPLAIN " + sql, into(lines), now;
        for (const auto& l : lines) plan += l + "\n";
      } else {
        std::vector<int> ids, parents, unused;
        std::vector<std::string> details;
        s << "EXPLAIN QUERY PLAN " + sql, into(ids), into(parents), into(unused), into(details), now;
        for (const auto& d : details) plan += d + "\n";
      }
      out.emplace_back(name, plan);
    }
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kIo, "explain: " + e.displayText());
  }
  return out;
}

}  // namespace mpay::bench
