#include "gateway/db_connections.h"

#include <Poco/Data/SessionPool.h>
#include <Poco/Exception.h>

#include <chrono>

namespace mpay::gateway {

constexpr std::chrono::seconds kIdleLimit{60};

DbConnection::DbConnection(const std::string& connector, const std::string& connect,
                           std::function<std::string(const std::string&)> translate)
    : session_(connector, connect), translate_(std::move(translate)) {}

PreparedStatement& DbConnection::prepared(const std::string& text, std::string_view params, std::string_view results) {
  auto& kept = statements_[text];
  if (!kept || kept->broken()) kept = std::make_unique<PreparedStatement>(session_, translate_(text), params, results);
  return *kept;
}

DbConnections::DbConnections(std::string connector, std::string connect, int most,
                             std::function<std::string(const std::string&)> translate,
                             std::function<void(Poco::Data::Session&)> on_open)
    : connector_(std::move(connector)),
      connect_(std::move(connect)),
      most_(most),
      translate_(std::move(translate)),
      on_open_(std::move(on_open)) {}

DbConnections::Lease DbConnections::get() {
  std::vector<Idle> stale;  // closed after the lock is let go
  {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_for(lock, std::chrono::seconds(2), [&] { return !idle_.empty() || out_ < most_; }))
      throw Poco::Data::SessionPoolExhaustedException("every database connection is in use");
    ++out_;
    // The oldest are at the front: those idle past the limit go.
    const auto limit = std::chrono::steady_clock::now() - kIdleLimit;
    std::size_t n = 0;
    while (n < idle_.size() && idle_[n].since < limit) ++n;
    for (std::size_t i = 0; i < n; ++i) {
      by_session_.erase(idle_[i].connection->session().impl());
      stale.push_back(std::move(idle_[i]));
    }
    idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(n));
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back().connection);
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  try {
    return Lease(*this, open());
  } catch (...) {
    std::lock_guard lock(mutex_);
    --out_;
    freed_.notify_one();
    throw;
  }
}

std::unique_ptr<DbConnection> DbConnections::open() {
  auto connection = std::make_unique<DbConnection>(connector_, connect_, translate_);
  if (on_open_) on_open_(connection->session());
  adopt(connection.get());
  return connection;
}

DbConnections::Lease::~Lease() {
  if (connection_) owner_->giveBack(std::move(connection_));
}

void DbConnections::giveBack(std::unique_ptr<DbConnection> connection) {
  Poco::Data::Session& s = connection->session();
  bool keep = false;
  try {
    if (s.isConnected() && s.isTransaction()) s.rollback();
    keep = s.isConnected() && s.isGood();
  } catch (const Poco::Exception&) {
    keep = false;
  }
  if (!keep) {
    forget(connection.get());
    connection.reset();  // closed: a fresh one is opened when next needed
  }
  std::lock_guard lock(mutex_);
  --out_;
  if (connection) idle_.push_back({std::move(connection), std::chrono::steady_clock::now()});
  freed_.notify_one();
}

DbConnection* DbConnections::find(Poco::Data::Session& s) {
  std::lock_guard lock(mutex_);
  auto it = by_session_.find(s.impl());
  return it == by_session_.end() ? nullptr : it->second;
}

void DbConnections::adopt(DbConnection* connection) {
  std::lock_guard lock(mutex_);
  by_session_[connection->session().impl()] = connection;
}

void DbConnections::forget(DbConnection* connection) {
  std::lock_guard lock(mutex_);
  by_session_.erase(connection->session().impl());
}

}  // namespace mpay::gateway
