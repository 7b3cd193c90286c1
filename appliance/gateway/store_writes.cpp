// How the store writes: a transaction per job on PostgreSQL, a group commit
// of concurrent jobs on SQLite (store.h, Store::write).
#include <Poco/Data/Session.h>

#include <optional>

#include "gateway/store.h"
#include "gateway/store_sql.h"

namespace mpay::gateway {

using namespace Poco::Data::Keywords;

ApiStatus Store::runWrite(const char* where, const Job& job) {
  if (postgres_) {
    return guarded(where, [&]() -> ApiStatus {
      Poco::Data::Session s = session();
      s.begin();
      Undo undo([&] { s.rollback(); });
      job(s, undo);
      if (!undo.done()) s.commit();
      return {};  // a session given back inside a transaction is rolled back by the pool
    });
  }
  PendingWrite mine{where, &job, {}};
  writes_->submit(mine, [&](auto take) { commitBatch(take()); });
  return std::move(mine.status);
}

void Store::commitBatch(const std::vector<PendingWrite*>& batch) {
  std::optional<Poco::Data::Session> s;
  try {
    s.emplace(session());
    // Every commit reaches the disk before it is acknowledged.
    *s << "PRAGMA synchronous=FULL", now;
    // IMMEDIATE: the write lock now (another process waits, or we wait
    // busy_timeout for it), not at the first write of some job.
    *s << "BEGIN IMMEDIATE", now;
    for (PendingWrite* w : batch) {
      *s << "SAVEPOINT job", now;
      Undo undo([&] { *s << "ROLLBACK TO job", now; });
      try {
        (*w->job)(*s, undo);
      } catch (const Poco::Exception& e) {
        w->status = dbError(w->where, e);
        undo();
      }
      *s << "RELEASE job", now;
    }
    *s << "COMMIT", now;
  } catch (const Poco::Exception& e) {
    // Not committed: nothing of the batch happened.
    if (s) {
      try {
        *s << "ROLLBACK", now;
      } catch (const Poco::Exception&) {
      }
    }
    for (PendingWrite* w : batch)
      if (w->status.ok()) w->status = dbError(w->where, e);
  }
}

}  // namespace mpay::gateway
