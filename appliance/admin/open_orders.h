// mpay-admin orders: the orders whose outcome is still open (docs/operations.md,
// "Open orders"), and completing them now instead of at the gateway's next
// pass. Both run as the gateway's user (root drops to it first): the
// database's files stay the gateway's, and the signer gives the same role
// and budgets it gives the gateway.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "gateway/store.h"

namespace mpay::admin {

// The gateway's database, opened as the gateway's user (root drops to it for good first).
Result<std::unique_ptr<gateway::Store>> openStoreAsGateway(const Config& config);

// What each verifier key and KEK generation still protects in the
// database, read as the gateway's user by a child process: the caller
// (mpay-admin rotate, root) keeps its own identity for the token.
Result<std::vector<gateway::GenerationCount>> countKeyGenerationsAsGateway(const Config& config);

// A table of the open orders, oldest first, and the counts the metrics show.
Result<std::string> listOpenOrders(const Config& config);
// Asks the acquirer again and signs the missing receipts of every open
// order nobody is working on, as the gateway's completer does; then lists
// what is still open.
Result<std::string> completeOpenOrders(const Config& config);

}  // namespace mpay::admin
