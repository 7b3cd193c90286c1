// The store's connections: a bounded set of real database connections, each
// with the statements prepared on it (gateway/prepared_statement.h). Poco's
// SessionPool hands out a new wrapper each time, so nothing could be kept
// per connection behind it.
#pragma once
#include <Poco/Data/Session.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/prepared_statement.h"

namespace mpay::gateway {

class DbConnection {
 public:
  // `translate`: the database's form of a statement's text ('?' to '$n').
  DbConnection(const std::string& connector, const std::string& connect,
               std::function<std::string(const std::string&)> translate);
  Poco::Data::Session& session() { return session_; }
  // The statement for `text` on this connection, prepared at its first use.
  PreparedStatement& prepared(const std::string& text, std::string_view params, std::string_view results);

 private:
  Poco::Data::Session session_;
  std::function<std::string(const std::string&)> translate_;
  // Declared after the session: destroyed before it.
  std::unordered_map<std::string, std::unique_ptr<PreparedStatement>> statements_;
};

class DbConnections {
 public:
  // `on_open` runs on each new connection (SQLite's busy timeout).
  DbConnections(std::string connector, std::string connect, int most,
                std::function<std::string(const std::string&)> translate,
                std::function<void(Poco::Data::Session&)> on_open = {});
  DbConnections(const DbConnections&) = delete;
  DbConnections& operator=(const DbConnections&) = delete;

  // One connection for as long as it lives; given back when it goes (closed
  // instead when it broke; rolled back if left inside a transaction).
  class Lease {
   public:
    Lease(DbConnections& owner, std::unique_ptr<DbConnection> connection)
        : owner_(&owner), connection_(std::move(connection)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    DbConnection& operator*() { return *connection_; }
    DbConnection* operator->() { return connection_.get(); }

   private:
    DbConnections* owner_;
    std::unique_ptr<DbConnection> connection_;
  };

  // Waits up to two seconds for a free connection when all `most` are out
  // (the pool is sized for every thread that can ask at once); then throws
  // Poco::Data::SessionPoolExhaustedException. A connection idle for a
  // minute is closed rather than lent (a server may have dropped it), as
  // Poco's pool did.
  Lease get();

  // The connection whose session `s` is (a write job is handed the session
  // only). Null for a session that is not one of these.
  DbConnection* find(Poco::Data::Session& s);
  // Registers a connection kept outside the pool (SQLite's writer) for find().
  void adopt(DbConnection* connection);
  void forget(DbConnection* connection);

 private:
  void giveBack(std::unique_ptr<DbConnection> connection);
  std::unique_ptr<DbConnection> open();
  friend class Store;  // SQLite's writer: a connection of the same kind outside the pool

  std::string connector_, connect_;
  int most_;
  std::function<std::string(const std::string&)> translate_;
  std::function<void(Poco::Data::Session&)> on_open_;
  std::mutex mutex_;
  std::condition_variable freed_;
  int out_ = 0;  // leased
  struct Idle {
    std::unique_ptr<DbConnection> connection;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Idle> idle_;  // the most recently given back last
  std::unordered_map<const void*, DbConnection*> by_session_;
};

}  // namespace mpay::gateway
