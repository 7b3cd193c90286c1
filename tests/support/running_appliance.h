// A whole development appliance under the real mpayd (signer, gateway,
// acquirer simulator) on free loopback ports, and the real mpay-client.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "support/dev_appliance.h"

namespace mpay::test {

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-case
};

// How an appliance of a cluster differs from a lone one (support/cluster.h).
struct ClusterMembership {
  std::string db_url;                               // a database the cluster shares
  const class RunningAppliance* token_from = nullptr;  // clone the platform from it (mpay-admin token clone)
};

class RunningAppliance {
 public:
  // `settings`: extra "section.key = value" lines for the config.
  // With `tls`, the gateway serves HTTPS with dev-setup's certificate and
  // every client here trusts the platform CA (public/ca.pem).
  // With `run_as` (tests run as root), the appliance's files are handed to
  // that account and mpayd starts as it: single-user development mode.
  // With `signer_ops`, that text replaces the appliance's copy of
  // policy/signer.ops (load tests raise its budgets, as scripts/bench does).
  explicit RunningAppliance(const std::string& settings = "", bool tls = false, const std::string& run_as = "",
                            const std::string& signer_ops = "");
  // An appliance of a cluster: no acquirer simulator of its own (the
  // settings name the cluster's), the shared database, and with
  // `token_from` the first appliance's platform in a copy of its token.
  RunningAppliance(const ClusterMembership& member, const std::string& settings, const std::string& signer_ops);
  // The same appliance (its files, devices and config) reached through
  // another port — a load balancer in front of it. Owns no process.
  RunningAppliance(const RunningAppliance& shape, int port);
  ~RunningAppliance();

  const DevAppliance& dev() const { return *dev_; }
  std::string url() const { return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_); }
  int port() const { return port_; }

  // mpay-client with --server and --state DIR/<device>.
  CommandOutput client(const std::string& device, const std::string& args) const;
  // mpay-admin with --config (the appliance's).
  CommandOutput admin(const std::string& args) const;
  // mpay-bench with --server and the appliance's outbox.
  CommandOutput bench(const std::string& args) const;
  // The same as the gateway's account when the appliance separates its
  // users (tests run as root): the bench then has the gateway's role on the
  // signer socket and may write the gateway's database, as scripts/bench runs it.
  CommandOutput benchAsGateway(const std::string& args) const;
  // The last confirmation code the outbox holds for `phone`.
  std::string confirmationCode(const std::string& phone) const;
  // Register and activate a device with a standard profile; returns its phone.
  std::string enroll(const std::string& device, const std::string& phone);

  HttpAnswer post(const std::string& path, const std::string& body, const std::string& extra_headers = "") const;
  HttpAnswer get(const std::string& path) const;
  // Raw bytes to the gateway port (for malformed HTTP); returns what came back.
  std::string raw(const std::string& bytes) const;
  HttpAnswer acquirerControl(const std::string& json) const;
  // Runs one SQL statement on the appliance's database (SQLite or PostgreSQL).
  void sql(const std::string& statement) const;
  // "sqlite" or "postgresql": MPAY_E2E_DB selects it (PostgreSQL needs MPAY_TEST_PG_URL).
  static std::string backend();
  HttpAnswer acquirerStats() const;
  // The acquirer simulator's ledger: {"ledger": [{order_no, result, transaction_no, amount_minor, currency}]}.
  HttpAnswer acquirerLedger() const;
  // GET on the gateway's metrics listener (dev-setup puts it at port + 2).
  HttpAnswer metrics(const std::string& path = "/metrics") const;
  // A request to the operator's console on the metrics listener, with this
  // Authorization header (none when empty) and extra "Name: value" lines.
  HttpAnswer console(const std::string& method, const std::string& authorization,
                     const std::string& extra_header = "") const;
  // The console's token (dev-setup writes it next to the config).
  std::string consoleToken() const;
  pid_t mpaydPid() const { return pid_; }
  // SIGTERM to mpayd; the milliseconds it took to exit, or -1 if it was still
  // running after `within_ms` (it is then killed). Either way it is gone.
  long stop(int within_ms);
  // Polls GET /healthz every 100 ms until it answers 200 (true) or `seconds` pass.
  bool healthyWithin(int seconds) const;
  // The appliance's mpayd.log so far.
  std::string log() const;
  // Any command line; stdout and stderr together.
  CommandOutput runCommand(const std::string& command_line) const;

 private:
  // A tool of the build's bin/ with --server (and --ca with TLS); stdout and stderr together.
  CommandOutput run(const std::string& binary, const std::string& args) const;

  void start(const std::string& run_as);

  std::shared_ptr<DevAppliance> dev_;
  std::string pg_database_;  // created for this appliance, dropped with it
  int port_ = 0;
  bool tls_ = false;
  pid_t pid_ = -1;
};

// Waits (up to 150 s) for the appliance's completer to close every open
// order, then checks the acquirer's reconciliation file against the
// database (mpay-admin reconcile): no debit without its receipt, none twice.
void expectOrdersClosedAndBooksBalanced(const RunningAppliance& app, const std::string& ledger_file);

// Three free loopback ports in a row (p, p+1, p+2), never handed to two tests at once.
int threeFreePorts();

// policy/signer.ops with every budget raised, as scripts/bench runs it: the
// shipped budgets (20 registrations and 100 logins a second, a few a minute
// per user) would answer a load test with rate_limited, which the policy
// tests cover.
std::string raisedBudgets();

inline constexpr char kPassword[] = "correct horse 42";
inline constexpr char kPin[] = "246810";

std::string jsonField(const std::string& json, const std::string& key);
// The children of `parent` whose program is `binary` (any when empty), from /proc.
std::vector<pid_t> childrenOf(pid_t parent, const std::string& binary = "");  // a top-level string or number, as text

}  // namespace mpay::test
