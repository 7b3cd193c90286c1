// How the store writes: a transaction per job on PostgreSQL, a group commit
// of concurrent jobs on SQLite (store.h, Store::write).
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <sqlite3.h>

#include <optional>

#include "common/log.h"
#include "gateway/store.h"
#include "gateway/store_sql.h"

namespace mpay::gateway {

using namespace Poco::Data::Keywords;

ApiStatus Store::runWrite(const char* where, const Job& job) {
  if (postgres_) {
    return guarded(where, [&]() -> ApiStatus {
      auto lease = session();
      Poco::Data::Session& s = lease->session();
      s.begin();
      Undo undo([&] { s.rollback(); });
      job(s, undo);
      if (!undo.done()) s.commit();
      return {};  // a session given back inside a transaction is rolled back by the pool
    });
  }
  PendingWrite mine{where, &job, apiError(ApiCode::kDatabaseUnavailable, "database unavailable")};
  writes_->submit(mine, [&](auto take) { commitBatch(take()); });
  return std::move(mine.status);
}

// The one connection SQLite writes through, used by one batch at a time.
Poco::Data::Session& Store::writer() {
  if (!writer_) {
    writer_ = connections_->open();
    // Every commit reaches the disk before it is acknowledged.
    writer_->session() << "PRAGMA synchronous=FULL", now;
  }
  return writer_->session();
}

void Store::commitBatch(const std::vector<PendingWrite*>& batch) {
  std::vector<ApiStatus> outcomes(batch.size());
  try {
    Poco::Data::Session& s = writer();
    // IMMEDIATE: the write lock now (another process waits, or we wait
    // busy_timeout for it), not at the first write of some job.
    s << "BEGIN IMMEDIATE", now;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      s << "SAVEPOINT job", now;
      Undo undo([&] { s << "ROLLBACK TO job", now; });
      try {
        (*batch[i]->job)(s, undo);
      } catch (const Poco::Exception& e) {
        outcomes[i] = dbError(batch[i]->where, e);
        undo();
      }
      s << "RELEASE job", now;
    }
    s << "COMMIT", now;
  } catch (const std::exception& e) {
    // Not committed: nothing of the batch happened, and every job keeps its
    // failure. A connection that may still be inside the transaction is
    // closed (SQLite rolls back) and opened again by the next batch.
    log::error(std::string("event=db_error where=write_batch detail=\"") + e.what() + "\"");
    if (writer_) connections_->forget(writer_.get());  // null when opening it threw
    writer_.reset();
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->status = std::move(outcomes[i]);
}

}  // namespace mpay::gateway
