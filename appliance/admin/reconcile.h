// mpay-admin reconcile: the acquirer's reconciliation file against the
// appliance's orders, as a bank's back office checks them each day. Every
// debit must have its receipt (same order, amount, currency and acquirer
// transaction), every receipt its debit, and no order may be debited twice.
// The file is JSON lines {"order_no","result","transaction_no",
// "amount_minor","currency"} (what mpay-acquirer-sim writes with --ledger).
// Runs as the gateway's user, as mpay-admin orders does.
#pragma once
#include <string>

#include "common/config.h"
#include "common/result.h"

namespace mpay::admin {

struct Reconciliation {
  std::string report;  // counts, then one line per discrepancy
  int discrepancies = 0;
};

Result<Reconciliation> reconcile(const Config& config, const std::string& ledger_path);

}  // namespace mpay::admin
