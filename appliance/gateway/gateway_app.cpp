#include "gateway/gateway_app.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/UUIDGenerator.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "common/command_line.h"
#include "common/config.h"
#include "common/identity.h"
#include "common/log.h"
#include "gateway/api_connection.h"
#include "gateway/http_api.h"
#include "gateway/http_client.h"
#include "gateway/metrics_endpoint.h"
#include "sandbox/sandbox.h"

namespace mpay::gateway {
namespace {

constexpr char kUsage[] =
    "usage: mpay-gateway --config FILE\n"
    "  The phones' HTTP API (gateway.listen, gateway.port in FILE) and the management listener\n"
    "  (/metrics, /console); calls the signer over its Unix socket. Started by mpayd or systemd;\n"
    "  see mpay-gateway(8).\n";
constexpr int kExitConfig = 78;

int startFailed(const std::string& why) {
  log::error("event=start_failed detail=\"" + why + "\"");
  return kExitConfig;
}

Result<Poco::Net::ServerSocket> listen(const GatewayConfig& g) {
  try {
    Poco::Net::SocketAddress address(g.listen, static_cast<Poco::UInt16>(g.port));
    if (g.tls_cert.empty()) {
      if (!address.host().isLoopback())
        return fail(ErrorCode::kConfig, "plain HTTP is allowed on loopback only; set gateway.tls_cert and tls_key");
      return Poco::Net::ServerSocket(address, 64);
    }
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, g.tls_key, g.tls_cert, "", Poco::Net::Context::VERIFY_NONE, 9, false,
        "ECDHE+AESGCM:ECDHE+CHACHA20");
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    return Poco::Net::ServerSocket(Poco::Net::SecureServerSocket(address, 64, context));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "cannot listen on " + g.listen + ":" + std::to_string(g.port) + ": " + e.displayText());
  }
}

// The scrape listener: plain HTTP (it serves counts, nothing a phone sends);
// which network reaches it is the firewall's decision (docs/operations.md).
Result<std::optional<Poco::Net::ServerSocket>> listenForMetrics(const GatewayConfig& g) {
  if (g.metrics_port == 0) return std::optional<Poco::Net::ServerSocket>();
  try {
    Poco::Net::SocketAddress address(g.metrics_listen, static_cast<Poco::UInt16>(g.metrics_port));
    return std::optional<Poco::Net::ServerSocket>(Poco::Net::ServerSocket(address, 16));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "cannot listen on " + g.metrics_listen + ":" + std::to_string(g.metrics_port) +
                                        " for metrics: " + e.displayText());
  }
}

// The phones' server: a thread per connection up to gateway.max_connections
// (small stacks: a thread that waits on a slow client costs little), the
// connection cap Poco lacks (it holds the filter), and the guard.
struct ApiServer {
  std::unique_ptr<Poco::ThreadPool> threads;
  std::unique_ptr<Poco::Net::TCPServer> server;
};

ApiServer apiServer(Engine& engine, const GatewayConfig& g, GatewayMetrics& metrics, ConnectionGuard& guard,
                    Poco::Net::ServerSocket socket) {
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(g.max_connections);
  params->setMaxQueued(g.max_queued);
  params->setTimeout(Poco::Timespan(static_cast<long>(g.request_timeout_ms) * 1000));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(g.request_timeout_ms) * 1000));
  params->setMaxKeepAliveRequests(100);
  params->setServerName("mpay");
  constexpr int kConnectionStack = 1 << 20;
  ApiServer out;
  out.threads = std::make_unique<Poco::ThreadPool>(2, g.max_connections, 60, kConnectionStack);
  out.server = std::make_unique<Poco::Net::TCPServer>(new ApiConnectionFactory(engine, g, metrics, guard, params),
                                                      *out.threads, socket, params);
  Poco::AutoPtr<ConnectionLimiter> limiter(new ConnectionLimiter(g.max_connections, metrics));
  limiter->attach(out.server.get());
  out.server->setConnectionFilter(limiter);
  return out;
}

// Confirmation codes: the SMS gateway's webhook in production, the outbox
// file in development.
// Its own two threads, joined at stop before the console's parts go away.
struct ManagementServer {
  std::unique_ptr<Poco::ThreadPool> threads;
  std::unique_ptr<Poco::Net::HTTPServer> server;
};

ManagementServer managementServer(GatewayMetrics& metrics, Console* console, Poco::Net::ServerSocket socket) {
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(2);
  params->setMaxQueued(16);
  params->setTimeout(Poco::Timespan(5, 0));
  params->setKeepAlive(false);
  params->setServerName("mpay");
  ManagementServer out;
  out.threads = std::make_unique<Poco::ThreadPool>(1, 2);
  out.server = std::make_unique<Poco::Net::HTTPServer>(new MetricsHandlerFactory(metrics, console), *out.threads,
                                                       socket, params);
  return out;
}

std::int64_t unixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The gateway's start record, with the digest of the policy it applied, goes
// into the signer's audit log. Fail closed: no record, no service — until it
// is written every request answers 503 signer_unavailable at once. The
// signer may be starting, restarting or unable to start (a missing token):
// the gateway tries again every half second until it answers, or until it
// refuses for a reason a retry cannot mend, or `stopping`.
Status recordStart(SignerPool& signer, const std::string& policy_sha256, const std::atomic<bool>& stopping) {
  for (;;) {
    auto recorded = signer.call<void>([&](SignerClient& c) { return c.recordStart("mpay-gateway", policy_sha256); });
    if (recorded.ok()) return {};
    const ErrorCode code = recorded.error().code;
    // The signer records a start once per process: `replayed` means an
    // earlier attempt of this one was written and its answer lost.
    if (code == ErrorCode::kReplayed) return {};
    const bool retry = code == ErrorCode::kIo || code == ErrorCode::kRateLimited ||
                       code == ErrorCode::kHsmUnavailable || code == ErrorCode::kAuditUnavailable;
    if (!retry || stopping) return recorded;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Blocks the stop signals in every thread (call it before the first thread
// starts); waitForStop receives them.
sigset_t blockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Until a stop signal arrives, or `failed` is set by another thread.
void waitForStop(const sigset_t& stop_signals, const std::atomic<bool>& failed) {
  while (!failed) {
    timespec tick{0, 200 * 1000 * 1000};
    if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) return;
  }
}

// The sequence number of the signer's latest exported audit checkpoint
// (signer.checkpoint_file), for the metric an external anchor watches; 0
// while there is none or it is being rewritten.
std::uint64_t latestAuditCheckpoint(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line.empty()) return 0;
  try {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>()->getValue<std::uint64_t>("seq");
  } catch (const Poco::Exception&) {
    return 0;
  }
}

// Until `stopping`: completes open orders every 2 s (and publishes how many
// are open, and the latest audit checkpoint), and forgets stale login counts
// of numbers without a user and counts what each verifier key and KEK
// generation protects every minute; seals identity records under an old
// KEK again, a few every second.
void runBackgroundWork(Engine& engine, GatewayMetrics& metrics, Console* console, const std::string& checkpoint_file,
                       const std::atomic<bool>& stopping) {
  for (int tick = 1; !stopping; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stopping) break;
    if (!engine.ready()) continue;
    if (tick % 20 == 0) {
      if (auto open = engine.completeOpenOrders(); open.ok())
        metrics.openOrders(open->open, open->approved_without_receipt);
      if (const std::uint64_t seq = latestAuditCheckpoint(checkpoint_file)) metrics.auditCheckpoint(seq);
      if (console) console->sample();
    }
    if (tick % 600 == 0) engine.purgeGuessesWithoutUser();
    // Counts over the users table: once a minute (5 s after start the first time).
    if (tick % 600 == 50)
      if (auto counts = engine.countKeyGenerations(); counts.ok()) metrics.keyGenerations(counts.value());
    // After a KEK switch, identity records move to the new KEK, 10 a second
    // (rewrap_identity's budget in policy/signer.ops is 20/s).
    if (tick % 10 == 5) engine.rewrapIdentities(10);
  }
}

// Until `stopping`: sends the confirmation codes waiting in the outbox every
// 5 s, on a thread of its own (one delivery may take the webhook's timeouts).
void runCodeSender(Engine& engine, const std::atomic<bool>& stopping) {
  for (int tick = 1; !stopping; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!stopping && engine.ready() && tick % 50 == 0) engine.sendWaitingCodes([&] { return !stopping; });
  }
}

}  // namespace

int GatewayApp::main(const std::vector<std::string>& args) {
  log::setProcessName("mpay-gateway");
  const sigset_t stop_signals = blockStopSignals();
  // TLS keys, sealed secrets in flight and database credentials are in its memory.
  if (auto no_dumps = forbidCoreDumps(); !no_dumps.ok()) return startFailed(no_dumps.error().detail);
  if (configPath().empty() || !args.empty()) {
    return usageError("mpay-gateway", "--config FILE is required, and nothing else", kUsage);
  }
  auto config = Config::load(configPath());
  if (!config) return startFailed(config.error().detail);
  const GatewayConfig& g = config->gateway;
  if (g.db_url.empty() || g.acquirer_url.empty()) return startFailed("gateway.db_url and gateway.acquirer_url are required");
  auto policy = sandbox::loadPolicy(config.value(), "gateway");
  if (!policy) return startFailed(policy.error().detail);
  log::info(std::string("event=identity mode=") + (runsAs(g.user) ? "separated" : "single-user") + " " +
            describeIdentity());
  // The listening socket (and its TLS key) first; then the sandbox, before
  // any thread or database connection exists.
  auto socket = listen(g);
  if (!socket) return startFailed(socket.error().detail);
  auto metrics_socket = listenForMetrics(g);
  if (!metrics_socket) return startFailed(metrics_socket.error().detail);
  // The webhook's secret, the console's token and the CAs for outbound TLS
  // are read before the sandbox, which names none of them.
  if (auto tls = configureOutboundTls(g.outbound_ca_file); !tls.ok()) return startFailed(tls.error().detail);
  auto notifier = notifierFor(g);
  if (!notifier) return startFailed(notifier.error().detail);
  std::optional<ConsoleCredential> console_credential;
  if (!g.console_token_file.empty()) {
    auto loaded = ConsoleCredential::load(g.console_token_file);
    if (!loaded) return startFailed(loaded.error().detail);
    console_credential = loaded.value();
  }
  // Poco's PostgreSQL connector names statements with time-based UUIDs; the
  // first one reads the host's MAC address (sysfs, interface ioctls), which
  // the sandbox denies. Generate one now so the node id is cached.
  Poco::UUIDGenerator::defaultGenerator().create();
  // The network-facing process never runs as root (mpayd as root and systemd
  // start it as gateway.user); policy/gateway.syscalls has no chown either.
  if (geteuid() == 0) return startFailed("refusing to run as root: start it as " + g.user + " (mpayd or systemd)");
  if (auto sandboxed = sandbox::apply(policy.value()); !sandboxed.ok()) return startFailed(sandboxed.error().detail);
  log::info("event=sandbox_applied policy/gateway.{fs,syscalls} sha256=" + policy->digest);
  auto store = Store::open(g.db_url, g.max_threads);
  if (!store) return startFailed("database: " + store.error().message);
  auto acquirer = httpAcquirer(g.acquirer_url, g.acquirer_timeout_ms);
  if (!acquirer) return startFailed(acquirer.error().detail);
  GatewayMetrics metrics(MPAY_VERSION);
  SignerPool signer(config->signer.socket, g.signer_connections, g.signer_timeout_ms, &metrics);
  Engine engine(g, *store.value(), signer, *notifier.value(), *acquirer.value(), unixNow);

  ConnectionGuard guard(g.request_timeout_ms, g.max_connections_per_source, g.max_threads);
  auto api = apiServer(engine, g, metrics, guard, socket.value());
  api.server->start();
  std::unique_ptr<Console> console;
  if (console_credential)
    console = std::make_unique<Console>(*console_credential, engine, signer, *store.value(), metrics, unixNow);
  std::optional<ManagementServer> scrape;
  if (metrics_socket.value()) {
    scrape = managementServer(metrics, console.get(), *metrics_socket.value());
    scrape->server->start();
  }
  // Serving from here, but every request answers 503 until the start record is written.
  log::info("event=gateway_started listen=" + g.listen + ":" + std::to_string(g.port) +
            (g.tls_cert.empty() ? " tls=off" : " tls=on") + " db=" + (store.value()->isPostgres() ? "postgresql" : "sqlite") +
            (scrape ? " metrics=" + g.metrics_listen + ":" + std::to_string(g.metrics_port) : std::string(" metrics=off")));

  std::atomic<bool> stopping{false}, failed{false};
  std::string failure;
  std::thread starter([&] {
    auto recorded = recordStart(signer, policy->digest, stopping);
    if (recorded.ok()) {
      engine.markReady();
      log::info("event=gateway_ready detail=\"start record written\"");
    } else if (!stopping) {
      failure = "no start record in the audit log: " + recorded.error().detail;
      failed = true;
    }
  });
  std::thread background([&] { runBackgroundWork(engine, metrics, console.get(), config->signer.checkpoint_file, stopping); });
  std::thread codes([&] { runCodeSender(engine, stopping); });
  waitForStop(stop_signals, failed);
  stopping = true;
  starter.join();
  background.join();
  codes.join();
  if (scrape) scrape->server->stopAll(true);
  api.server->stop();  // no new connections; the guard ends the open ones at once
  guard.cutAll();
  // A console page in the making finishes its signer and database calls first.
  if (scrape) scrape->threads->joinAll();
  api.threads->joinAll();
  if (failed) return startFailed(failure);
  log::info("event=gateway_stopped");
  return 0;
}

int runGateway(int argc, char** argv) {
  GatewayApp app;
  return runCommandLine(app, argc, argv, "mpay-gateway", kUsage);
}

}  // namespace mpay::gateway
