#include "admin/open_orders.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <ctime>

#include "common/identity.h"
#include "gateway/acquirer.h"
#include "gateway/engine.h"
#include "gateway/http_client.h"
#include "gateway/notifier.h"
#include "gateway/signer_pool.h"
#include "gateway/store.h"

namespace mpay::admin {
namespace {

constexpr int kMostListed = 1000;
constexpr int kMostPasses = 100;  // 50 orders a pass, as the gateway's completer takes them

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

Status becomeGateway(const Config& config) {
  if (geteuid() != 0) return {};  // already the gateway's user, or single-user mode
  MPAY_ASSIGN_OR_RETURN(Account gateway, lookupAccount(config.gateway.user));
  return becomeAccount(gateway);
}

Result<std::string> describe(gateway::Store& store) {
  auto orders = store.openOrders(kMostListed);
  if (!orders) return fail(ErrorCode::kInternal, "database: " + orders.error().message);
  auto counts = store.countOpenOrders();
  if (!counts) return fail(ErrorCode::kInternal, "database: " + counts.error().message);
  const std::int64_t now = unixNow();
  std::string out = "order_no                          state      acquirer  amount_minor currency  age_s  worked_on\n";
  for (const auto& o : orders.value()) {
    char line[256];
    std::snprintf(line, sizeof line, "%-33s %-10s %-9s %12lld %-8s %6lld  %s\n", o.row.order_no.c_str(),
                  o.row.state.c_str(), o.row.acquirer_result.empty() ? "-" : o.row.acquirer_result.c_str(),
                  static_cast<long long>(o.row.amount_minor), o.row.currency.c_str(),
                  static_cast<long long>(now - o.created_at), o.row.claimed_until > now ? "yes" : "no");
    out += line;
  }
  out += "open: " + std::to_string(counts->open) +
         "  approved_without_receipt: " + std::to_string(counts->approved_without_receipt) + "\n";
  return out;
}

}  // namespace

Result<std::unique_ptr<gateway::Store>> openStoreAsGateway(const Config& config) {
  MPAY_RETURN_IF_ERROR(becomeGateway(config));
  auto store = gateway::Store::open(config.gateway.db_url);
  if (!store) return fail(ErrorCode::kInternal, "database: " + store.error().message);
  return std::move(store).value();
}

Result<std::vector<gateway::GenerationCount>> countKeyGenerationsAsGateway(const Config& config) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(ErrorCode::kIo, "pipe: " + std::string(std::strerror(errno)));
  const pid_t child = ::fork();
  if (child < 0) return fail(ErrorCode::kIo, "fork: " + std::string(std::strerror(errno)));
  if (child == 0) {
    ::close(fds[0]);
    std::string out;
    if (auto store = openStoreAsGateway(config); !store) {
      out = "error " + store.error().detail + "\n";
    } else if (auto counts = store.value()->countKeyGenerations(unixNow()); !counts) {
      out = "error " + counts.error().message + "\n";
    } else {
      for (const auto& c : counts.value())
        out += c.key + " " + c.which + " " + std::to_string(c.generation) + " " + std::to_string(c.count) + "\n";
      out += "ok\n";  // the whole answer: a child cut short never reads as "nothing left"
    }
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(1);
      done += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[512];
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(child, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail(ErrorCode::kInternal, "the database could not be read for the key generation counts");
  std::vector<gateway::GenerationCount> counts;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("error ", 0) == 0) return fail(ErrorCode::kInternal, "database: " + line.substr(6));
    if (line == "ok") return counts;
    gateway::GenerationCount c;
    std::istringstream words(line);
    if (!(words >> c.key >> c.which >> c.generation >> c.count))
      return fail(ErrorCode::kInternal, "key generation counts: '" + line + "'");
    counts.push_back(c);
  }
  return fail(ErrorCode::kInternal, "the key generation counts ended early");
}

Result<std::string> listOpenOrders(const Config& config) {
  MPAY_ASSIGN_OR_RETURN(auto store, openStoreAsGateway(config));
  return describe(*store);
}

Result<std::string> completeOpenOrders(const Config& config) {
  const GatewayConfig& g = config.gateway;
  MPAY_ASSIGN_OR_RETURN(auto store, openStoreAsGateway(config));
  MPAY_RETURN_IF_ERROR(gateway::configureOutboundTls(g.outbound_ca_file));
  MPAY_ASSIGN_OR_RETURN(auto notifier, gateway::notifierFor(g));
  MPAY_ASSIGN_OR_RETURN(auto acquirer, gateway::httpAcquirer(g.acquirer_url, g.acquirer_timeout_ms));
  gateway::SignerPool signer(config.signer.socket, 1, g.signer_timeout_ms);
  gateway::Engine engine(g, *store, signer, *notifier, *acquirer, unixNow);
  std::int64_t open = -1;
  for (int pass = 0; pass < kMostPasses; ++pass) {
    auto left = engine.completeOpenOrders();
    if (!left) return fail(ErrorCode::kInternal, "database: " + left.error().message);
    if (left->open == 0 || left->open == open) break;  // done, or no progress this pass
    open = left->open;
  }
  return describe(*store);
}

}  // namespace mpay::admin
