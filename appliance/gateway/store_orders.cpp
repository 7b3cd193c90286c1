// The store's rules for money and guesses: attempts spent before a secret is
// checked, and one row per order that exactly one request or the completer
// drives at a time. Each rule is one conditional statement, so it holds
// across threads, processes and appliances on SQLite and PostgreSQL alike.
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include "gateway/json_fields.h"
#include "gateway/store.h"
#include "gateway/store_sql.h"

namespace mpay::gateway {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Data::Statement;

struct AttemptColumns {
  const char* table;
  const char* count;
  const char* locked_until;
};

AttemptColumns columnsOf(Guess guess) {
  switch (guess) {
    case Guess::kPassword: return {"users", "failed_logins", "login_locked_until"};
    case Guess::kPin: return {"users", "failed_pins", "pin_locked_until"};
    case Guess::kPasswordWithoutUser: return {"login_guesses_without_user", "failed_logins", "login_locked_until"};
  }
  return {"users", "failed_logins", "login_locked_until"};
}

// The columns of TransactionRow, in the order readRow expects them.
constexpr const char* kTransactionColumns =
    "order_no, request_hash, phone, amount_minor, currency, state, transaction_no, receipt, receipt_signature,"
    " content_hash, content, permit, acquirer_result, claimed_until";

}  // namespace

// Spends one attempt at `guess` for `phone` unless it is locked: one
// conditional statement; true when spent.
bool Store::spendAttemptIn(Poco::Data::Session& s, Guess guess, const std::string& phone, std::int64_t now_s,
                           std::int64_t lock_until, int threshold) {
  const auto c = columnsOf(guess);
  const std::string table = c.table, count = table + "." + c.count, locked = table + "." + c.locked_until;
  // A lock that has run out (locked_until set, not in the future) starts the count again.
  const std::string base = "(CASE WHEN " + locked + " <> 0 THEN 0 ELSE " + count + " END)";
  const std::string set = std::string(c.count) + " = " + base + " + 1, " + c.locked_until + " = CASE WHEN " + base +
                          " + 1 >= ? THEN ? ELSE 0 END";
  const std::int64_t limit = threshold;
  if (guess == Guess::kPasswordWithoutUser) {
    // One statement, as for a user's row, so that both cost the same.
    return prepared(s,
                    "INSERT INTO " + table + " (phone, " + c.count + ", " + c.locked_until +
                        ", created_at) VALUES (?, 1, CASE WHEN 1 >= ? THEN ? ELSE 0 END, ?) ON CONFLICT (phone) DO UPDATE SET " +
                        set + " WHERE " + locked + " <= ?",
                    "tnnnnnn")
               .run(phone, limit, lock_until, now_s, limit, lock_until, now_s) == 1;
  }
  return prepared(s, "UPDATE " + table + " SET " + set + " WHERE phone = ? AND " + locked + " <= ?", "nntn")
             .run(limit, lock_until, phone, now_s) == 1;
}

ApiResult<bool> Store::spendAttempt(Guess guess, const std::string& phone, std::int64_t now_s, std::int64_t lock_until,
                                    int threshold) {
  return write("spendAttempt", [&](Poco::Data::Session& s, Undo&) -> ApiResult<bool> {
    return spendAttemptIn(s, guess, phone, now_s, lock_until, threshold);
  });
}

ApiStatus Store::returnAttempt(Guess guess, const std::string& phone, int threshold) {
  return write("returnAttempt", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    const auto c = columnsOf(guess);
    const std::string count = c.count, locked = c.locked_until;
    std::string p = phone;
    int limit = threshold;
    s << sql(std::string("UPDATE ") + c.table + " SET " + count + " = " + count + " - 1, " + locked + " = CASE WHEN " + count +
             " - 1 < ? THEN 0 ELSE " + locked + " END WHERE phone = ? AND " + count + " > 0"),
        use(limit), use(p), now;
    return {};
  });
}

void Store::clearAttemptsIn(Poco::Data::Session& s, Guess guess, const std::string& phone) {
  const auto c = columnsOf(guess);
  prepared(s, std::string("UPDATE ") + c.table + " SET " + c.count + " = 0, " + c.locked_until + " = 0 WHERE phone = ? AND (" +
                  c.count + " <> 0 OR " + c.locked_until + " <> 0)",
           "t")
      .run(phone);
}

ApiStatus Store::clearAttempts(Guess guess, const std::string& phone) {
  return write("clearAttempts", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    clearAttemptsIn(s, guess, phone);
    return {};
  });
}

ApiStatus Store::purgeGuessesWithoutUser(std::int64_t now_s, std::int64_t created_before) {
  return write("purgeGuessesWithoutUser", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    Poco::Int64 now_v = now_s, before = created_before;
    s << sql("DELETE FROM login_guesses_without_user WHERE (login_locked_until <> 0 AND login_locked_until <= ?)"
             " OR created_at < ?"),
        use(now_v), use(before), now;
    return {};
  });
}

ApiResult<std::optional<TransactionRow>> Store::findTransaction(const std::string& order_no) {
  return read("findTransaction", [&](Poco::Data::Session& s) -> ApiResult<std::optional<TransactionRow>> {
    auto& q = prepared(s, std::string("SELECT ") + kTransactionColumns + " FROM transactions WHERE order_no = ?", "t",
                       "tttntttttttttn");
    if (q.run(order_no) == 0) return std::optional<TransactionRow>();
    return std::optional<TransactionRow>(TransactionRow{
        q.text(0), q.text(1), q.text(2), q.number(3), q.text(4), q.text(5), q.text(6), unb64(q.text(7)),
        unb64(q.text(8)), q.text(9), q.text(10), q.text(12), unb64(q.text(11)), q.number(13)});
  });
}

ApiResult<Store::PaymentStart> Store::startPayment(const PaymentStartRequest& r) {
  return write("startPayment", [&](Poco::Data::Session& s, Undo& undo) -> ApiResult<PaymentStart> {
    // The order first: an identical resend that finds it taken waits for
    // its outcome instead of being refused for the counter the first spent.
    std::string order, hash;
    if (r.claim) {
      const TransactionRow& t = *r.claim;
      order = t.order_no;
      hash = t.request_hash;
      auto& claim = prepared(s,
                             "INSERT INTO transactions (order_no, request_hash, phone, amount_minor, currency, state,"
                             " created_at, updated_at, claimed_until) VALUES (?, ?, ?, ?, ?, 'verifying', ?, ?, ?)"
                             " ON CONFLICT DO NOTHING",
                             "tttntnnn");
      if (claim.run(order, hash, t.phone, t.amount_minor, t.currency, r.now, r.now, t.claimed_until) != 1) {
        undo();
        return PaymentStart::kOrderTaken;
      }
    }
    auto& advance = prepared(s, "UPDATE sessions SET last_counter = ? WHERE session_id = ? AND last_counter < ?", "ntn");
    if (advance.run(r.counter, base64url(r.session_id), r.counter) != 1) {
      undo();
      return PaymentStart::kReplayed;
    }
    if (!spendAttemptIn(s, Guess::kPin, r.phone, r.now, r.lock_until, r.threshold)) {
      // The counter stays spent; the order is not claimed.
      if (r.claim) s << sql("DELETE FROM transactions WHERE order_no = ? AND request_hash = ?"), use(order), use(hash), now;
      return PaymentStart::kPinLocked;
    }
    return PaymentStart::kStarted;
  });
}

ApiStatus Store::dropVerifyingClaim(const std::string& order_no, const std::string& request_hash) {
  return write("dropVerifyingClaim", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    std::string order = order_no, hash = request_hash;
    s << sql("DELETE FROM transactions WHERE order_no = ? AND request_hash = ? AND state = 'verifying'"), use(order),
        use(hash), now;
    return {};
  });
}

ApiStatus Store::markVerified(const TransactionRow& t, std::int64_t at) {
  return write("markVerified", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    auto& verified = prepared(s,
                              "UPDATE transactions SET state = 'pending', content_hash = ?, content = ?, permit = ?,"
                              " claimed_until = ?, updated_at = ? WHERE order_no = ? AND request_hash = ?"
                              " AND state = 'verifying'",
                              "tttnntt");
    if (verified.run(t.content_hash, t.content, base64url(t.permit), t.claimed_until, at, t.order_no, t.request_hash) != 1)
      return apiError(ApiCode::kInternal, "the order's claim was lost");  // undone
    prepared(s, "UPDATE users SET failed_pins = 0, pin_locked_until = 0 WHERE phone = ?", "t").run(t.phone);
    return {};
  });
}

ApiResult<bool> Store::reclaimOpenOrder(const std::string& order_no, std::int64_t at, std::int64_t claimed_until) {
  return write("reclaimOpenOrder", [&](Poco::Data::Session& s, Undo&) -> ApiResult<bool> {
    std::string order = order_no;
    Poco::Int64 now_v = at, claimed = claimed_until;
    Statement st(s);
    st << sql("UPDATE transactions SET claimed_until = ? WHERE order_no = ? AND state IN ('pending', 'unknown')"
              " AND claimed_until <= ?"),
        use(claimed), use(order), use(now_v);
    return st.execute() == 1;
  });
}

ApiStatus Store::recordOutcome(const TransactionRow& t, std::int64_t at) {
  return write("recordOutcome", [&](Poco::Data::Session& s, Undo&) -> ApiStatus {
    prepared(s,
             "UPDATE transactions SET state = ?, transaction_no = ?, receipt = ?, receipt_signature = ?,"
             " acquirer_result = ?, claimed_until = ?, updated_at = ? WHERE order_no = ? AND state IN ('pending', 'unknown')",
             "tttttnnt")
        .run(t.state, t.transaction_no, base64url(t.receipt), base64url(t.receipt_signature), t.acquirer_result,
             t.final() ? std::int64_t{0} : t.claimed_until, at, t.order_no);
    return {};
  });
}

ApiResult<std::vector<TransactionRow>> Store::unclaimedOpenOrders(std::int64_t at, int limit) {
  return read("unclaimedOpenOrders", [&](Poco::Data::Session& s) -> ApiResult<std::vector<TransactionRow>> {
    Poco::Int64 now_v = at;
    int most = limit;
    std::vector<std::string> orders;
    s << sql("SELECT order_no FROM transactions WHERE state IN ('verifying', 'pending', 'unknown')"
             " AND claimed_until <= ? ORDER BY updated_at LIMIT ?"),
        into(orders), use(now_v), use(most), now;
    std::vector<TransactionRow> out;
    for (const auto& order : orders) {
      MPAY_ASSIGN_OR_RETURN(auto row, findTransaction(order));
      if (row) out.push_back(std::move(*row));
    }
    return out;
  });
}

ApiResult<std::vector<Store::OpenOrder>> Store::openOrders(int limit) {
  return read("openOrders", [&](Poco::Data::Session& s) -> ApiResult<std::vector<OpenOrder>> {
    int most = limit;
    std::vector<std::string> orders;
    std::vector<Poco::Int64> created, updated;
    s << sql("SELECT order_no, created_at, updated_at FROM transactions"
             " WHERE state IN ('verifying', 'pending', 'unknown') ORDER BY created_at LIMIT ?"),
        into(orders), into(created), into(updated), use(most), now;
    std::vector<OpenOrder> out;
    for (std::size_t i = 0; i < orders.size(); ++i) {
      MPAY_ASSIGN_OR_RETURN(auto row, findTransaction(orders[i]));
      if (row) out.push_back(OpenOrder{std::move(*row), created[i], updated[i]});
    }
    return out;
  });
}

ApiResult<std::vector<std::string>> Store::ordersInState(const std::string& state) {
  return read("ordersInState", [&](Poco::Data::Session& s) -> ApiResult<std::vector<std::string>> {
    std::string wanted = state;
    std::vector<std::string> orders;
    s << sql("SELECT order_no FROM transactions WHERE state = ? ORDER BY created_at"), into(orders), use(wanted), now;
    return orders;
  });
}

ApiResult<Store::OpenOrderCounts> Store::countOpenOrders() {
  return read("countOpenOrders", [&](Poco::Data::Session& s) -> ApiResult<OpenOrderCounts> {
    Poco::Int64 open = 0, approved = 0;
    s << "SELECT COUNT(*), COALESCE(SUM(CASE WHEN acquirer_result = 'approved' THEN 1 ELSE 0 END), 0)"
         " FROM transactions WHERE state IN ('pending', 'unknown')",
        into(open), into(approved), now;
    return OpenOrderCounts{open, approved};
  });
}

}  // namespace mpay::gateway
