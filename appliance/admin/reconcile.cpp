#include "admin/reconcile.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <map>
#include <set>

#include "admin/open_orders.h"
#include "gateway/store.h"

namespace mpay::admin {
namespace {

struct Debit {
  bool approved = false;
  std::string transaction_no, currency;
  std::int64_t amount_minor = 0;
};

}  // namespace

Result<Reconciliation> reconcile(const Config& config, const std::string& ledger_path) {
  std::ifstream in(ledger_path);
  if (!in) return fail(ErrorCode::kIo, "cannot read " + ledger_path);
  Reconciliation r;
  auto problem = [&](const std::string& order, const std::string& what) {
    ++r.discrepancies;
    r.report += "DISCREPANCY " + order + ": " + what + "\n";
  };
  std::map<std::string, Debit> ledger;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    try {
      auto e = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      const std::string order = e->getValue<std::string>("order_no");
      Debit d{e->getValue<std::string>("result") == "approved", e->getValue<std::string>("transaction_no"),
              e->getValue<std::string>("currency"), e->getValue<std::int64_t>("amount_minor")};
      if (!ledger.emplace(order, d).second) problem(order, "in the acquirer's file twice (a double debit)");
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kBadField, ledger_path + ":" + std::to_string(n) + ": " + e.displayText());
    }
  }
  MPAY_ASSIGN_OR_RETURN(auto store, openStoreAsGateway(config));
  int debits = 0, declines = 0;
  for (const auto& [order, debit] : ledger) {
    debit.approved ? ++debits : ++declines;
    auto row = store->findTransaction(order);
    if (!row) return fail(ErrorCode::kInternal, "database: " + row.error().message);
    const auto& t = row.value();
    if (!t) {
      problem(order, "the acquirer has it, the appliance does not");
      continue;
    }
    const std::string expected = debit.approved ? "approved" : "declined";
    if (t->state != expected) problem(order, "the acquirer " + expected + " it, the appliance has it " + t->state);
    else if (t->receipt.empty()) problem(order, expected + " without a receipt");
    if (t->amount_minor != debit.amount_minor || t->currency != debit.currency)
      problem(order, "the receipt says " + std::to_string(t->amount_minor) + " " + t->currency + ", the acquirer " +
                         std::to_string(debit.amount_minor) + " " + debit.currency);
    if (t->state == expected && t->transaction_no != debit.transaction_no)
      problem(order, "acquirer transaction " + debit.transaction_no + ", the receipt names " + t->transaction_no);
  }
  int receipts = 0;
  for (const char* state : {"approved", "declined"}) {
    auto orders = store->ordersInState(state);
    if (!orders) return fail(ErrorCode::kInternal, "database: " + orders.error().message);
    receipts += static_cast<int>(orders->size());
    for (const auto& order : orders.value())
      if (!ledger.contains(order)) problem(order, std::string("a receipt (") + state + ") the acquirer never answered");
  }
  r.report = "acquirer: " + std::to_string(debits) + " debits, " + std::to_string(declines) +
             " declines; appliance: " + std::to_string(receipts) + " receipts; discrepancies: " +
             std::to_string(r.discrepancies) + "\n" + r.report;
  return r;
}

}  // namespace mpay::admin
