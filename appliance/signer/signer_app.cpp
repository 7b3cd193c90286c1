#include "signer/signer_app.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/audit_log.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/policy_text.h"
#include "common/supervisor.h"
#include "hsm/key_policy.h"
#include "sandbox/sandbox.h"
#include "signer/server.h"
#include "suite/acquirer_answer.h"
#include "suite/primitives.h"

namespace mpay::signer {
namespace {

constexpr char kUsage[] =
    "usage: mpay-signer --config FILE\n"
    "  The only process that opens the PKCS#11 token: serves the signer's operations on the Unix\n"
    "  socket named by signer.socket in FILE. Started by mpayd or systemd; see mpay-signer(8).\n";
constexpr int kExitConfig = 78;
constexpr int kExitWorkerFailed = 3;

struct Startup {
  Config config;
  hsm::KeyPolicy policy;
  std::string policy_sha256;  // policy/keys
  sandbox::Policy sandbox;
  OpsPolicy ops;
  std::string ops_sha256;  // policy/signer.ops
  std::unique_ptr<Budgets> budgets;  // shared with every worker
  SignerLimits limits;
  std::string limits_sha256;  // policy/signer.limits
  std::unique_ptr<SignerState> state;  // shared with every worker
  std::shared_ptr<const suite::EcPublicKey> acquirer_key;
  AuditCheckpointClock* audit_clock = nullptr;  // shared with every worker
  int checkpoint_fd = -1;  // signer.checkpoint_file, opened before the workers fork
  int listen_fd = -1;
  int workers = 1;
  RoleMap roles;
};

// Running as signer.user, the gateway role belongs to gateway.user's uid;
// in single-user development mode, to this process's own uid.
Result<RoleMap> roleMap(const Config& config) {
  RoleMap roles{static_cast<long>(getuid()), config.signer.admin_uid};
  const bool separated = runsAs(config.signer.user);
  if (separated) {
    MPAY_ASSIGN_OR_RETURN(Account gateway, lookupAccount(config.gateway.user));
    roles.gateway_uid = static_cast<long>(gateway.uid);
  }
  log::info(std::string("event=identity mode=") + (separated ? "separated" : "single-user") + " " +
            describeIdentity() + " gateway_uid=" + std::to_string(roles.gateway_uid) +
            " admin_uid=" + std::to_string(roles.admin_uid));
  return roles;
}

Result<std::string> fileSha256(const std::string& path) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(path));
  return hexEncode(suite::sha256(asBytes(text)));
}

Result<Startup> prepare(const std::string& config_path) {
  Startup s;
  MPAY_ASSIGN_OR_RETURN(s.config, Config::load(config_path));
  const std::string keys_path = s.config.policy_dir + "/keys";
  MPAY_ASSIGN_OR_RETURN(s.policy, hsm::KeyPolicy::load(keys_path));
  MPAY_ASSIGN_OR_RETURN(s.policy_sha256, fileSha256(keys_path));
  MPAY_ASSIGN_OR_RETURN(s.sandbox, sandbox::loadPolicy(s.config, "signer"));
  const std::string ops_path = s.config.policy_dir + "/signer.ops";
  MPAY_ASSIGN_OR_RETURN(s.ops, OpsPolicy::load(ops_path));
  MPAY_ASSIGN_OR_RETURN(s.ops_sha256, fileSha256(ops_path));
  MPAY_ASSIGN_OR_RETURN(s.budgets, Budgets::create(s.ops));
  const std::string limits_path = s.config.policy_dir + "/signer.limits";
  MPAY_ASSIGN_OR_RETURN(s.limits, SignerLimits::load(limits_path));
  MPAY_ASSIGN_OR_RETURN(s.limits_sha256, fileSha256(limits_path));
  // The first start makes the state file; later ones need it (a lost file is an operator's decision).
  const auto audit_head = readAuditHead(s.config.signer.audit_log);
  const bool served_before = audit_head.ok() && audit_head->seq > 0;
  MPAY_ASSIGN_OR_RETURN(s.state, SignerState::open(s.config.signer.state_file, s.limits, !served_before));
  if (s.config.signer.acquirer_certificate.empty())
    return fail(ErrorCode::kConfig, "signer.acquirer_certificate is required: no receipt is signed that the acquirer did not sign");
  MPAY_ASSIGN_OR_RETURN(auto acquirer, suite::loadAcquirerCertificate(s.config.signer.acquirer_certificate));
  s.acquirer_key = std::make_shared<const suite::EcPublicKey>(std::move(acquirer));
  s.audit_clock = AuditCheckpointClock::createShared();
  if (!s.audit_clock) return fail(ErrorCode::kIo, "cannot map the audit checkpoint clock");
  // The latest signed checkpoint, for an external anchor (public directory).
  s.checkpoint_fd = ::open(s.config.signer.checkpoint_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s.checkpoint_fd < 0)
    return fail(ErrorCode::kConfig, "cannot open signer.checkpoint_file " + s.config.signer.checkpoint_file + ": " +
                                        std::strerror(errno) + " (the image's tmpfiles.d makes it, owned by the signer)");
  MPAY_ASSIGN_OR_RETURN(s.roles, roleMap(s.config));
  MPAY_ASSIGN_OR_RETURN(s.listen_fd, bindUnixSocket(s.config.signer.socket, 0660));
  s.workers = s.config.signer.effectiveWorkers();
  return s;
}

std::uint64_t unixNow() { return static_cast<std::uint64_t>(std::time(nullptr)); }

constexpr auto kRotationPoll = std::chrono::seconds(2);

// `audited`: the state version this worker last recorded as loaded (a
// request may have made the token read a new state first: Token::run).
void watchRotation(hsm::Token& token, AuditLog& audit, long uid, std::uint64_t& audited) {
  auto changed = token.reloadIfRotated();
  if (!changed) {
    log::warn("event=rotation_check_failed detail=\"" + changed.error().detail + "\"");
    return;
  }
  const hsm::RotationState state = token.rotation();
  if (state.version == audited) return;
  audited = state.version;
  std::string note = "version=" + std::to_string(state.version);
  for (const auto& kind : hsm::RotationState::kinds()) {
    const hsm::KeyGenerations& g = state.of(kind);
    note += " " + kind + " current=" + std::to_string(g.current) + " next=" + std::to_string(g.next) +
            " previous=" + std::to_string(g.previous) + " previous_until=" + std::to_string(g.previous_until);
  }
  log::info("event=rotation_loaded " + note);
  AuditEvent loaded;
  loaded.uid = uid;  // getuid is outside policy/signer.syscalls once the worker is sandboxed
  loaded.role = "signer";
  loaded.op = "rotation_loaded";
  loaded.result = "ok";
  loaded.note = note;
  if (!audit.append(loaded).ok()) log::error("event=audit_write_failed op=rotation_loaded");
}

// Runs in the forked child; never returns.
[[noreturn]] void runWorker(Startup& s, int index) {
  log::setProcessName("mpay-signer-worker");
  auto token = hsm::Token::open(s.config.hsm, s.policy, s.config.signer.threads);
  if (!token) {
    log::error("event=worker_start_failed worker=" + std::to_string(index) + " detail=\"" + token.error().detail + "\"");
    _exit(kExitWorkerFailed);
  }
  auto audit = AuditLog::open(s.config.signer.audit_log);
  if (!audit) {
    log::error("event=worker_start_failed detail=\"" + audit.error().detail + "\"");
    _exit(kExitWorkerFailed);
  }
  AuditCheckpoints checkpoints;
  checkpoints.every_records = s.limits.audit_checkpoint_records;
  checkpoints.every_seconds = s.limits.audit_checkpoint_seconds;
  checkpoints.clock = s.audit_clock;
  checkpoints.export_fd = s.checkpoint_fd;
  checkpoints.uid = static_cast<long>(getuid());
  checkpoints.sign = [token = token->get()](ByteView digest) {
    return token->call<Bytes>([&](hsm::Lane& lane) { return lane.signDigest(lane.keys().audit, digest); });
  };
  audit->checkpoints(std::move(checkpoints));
  AuditEvent start;
  start.uid = static_cast<long>(getuid());
  start.role = "signer";
  start.op = "worker_start";
  start.result = "ok";
  start.note = "policy/keys sha256=" + s.policy_sha256 + " policy/signer.ops sha256=" + s.ops_sha256 +
               " policy/signer.limits sha256=" + s.limits_sha256 + " state epoch=" + hexEncode(s.state->epoch()) +
               " policy/signer.{fs,syscalls} sha256=" + s.sandbox.digest;
  if (!audit->append(start).ok()) {
    log::error("event=worker_start_failed detail=\"audit log not writable\"");
    _exit(kExitWorkerFailed);
  }
  // SoftHSM2 logs failed operations with syslog(3): connect /dev/log now,
  // while the worker may still make sockets (policy/signer.syscalls).
  openlog("mpay-signer", LOG_NDELAY | LOG_PID, LOG_DAEMON);
  // Everything a worker needs is open: from here on, only what policy/ allows.
  if (auto sandboxed = sandbox::apply(s.sandbox); !sandboxed.ok()) {
    log::error("event=worker_start_failed detail=\"" + sandboxed.error().detail + "\"");
    _exit(kExitWorkerFailed);
  }
  OpContext ctx{*token.value(), unixNow, s.config.signer.pkcs12_iterations, s.config.signer.audit_log};
  ctx.state = s.state.get();
  ctx.acquirer_key = s.acquirer_key;
  Dispatcher dispatcher(std::move(ctx), std::move(audit).value(), s.ops, *s.budgets);
  // Records that arrive and then stop are still signed within about a
  // checkpoint interval: the timer asks for a checkpoint when one is due.
  std::thread([&dispatcher, interval = s.limits.audit_checkpoint_seconds] {
    const auto tick = std::chrono::milliseconds(std::max<std::uint32_t>(250, interval * 1000 / 4));
    for (;;) {
      std::this_thread::sleep_for(tick);
      dispatcher.audit().checkpointIfDue();
    }
  }).detach();
  // A rotation step (mpay-admin rotate) changes the token's generations;
  // every worker takes them within kRotationPoll.
  std::thread([&dispatcher, token = token->get(), uid = start.uid, audited = token->get()->rotation().version]() mutable {
    for (;;) {
      std::this_thread::sleep_for(kRotationPoll);
      watchRotation(*token, dispatcher.audit(), uid, audited);
    }
  }).detach();
  log::info("event=worker_ready worker=" + std::to_string(index));
  serveForever(s.listen_fd, dispatcher, s.roles, s.config.signer.max_frame, s.config.signer.threads,
               s.config.signer.idle_timeout_s);
  _exit(0);
}

int supervise(Startup& s) {
  std::vector<SupervisedChild> workers;
  for (int i = 0; i < s.workers; ++i) {
    workers.push_back({"worker-" + std::to_string(i), [&s, i] {
                         const pid_t parent = getpid();
                         pid_t pid = fork();
                         if (pid == 0) {
                           Supervisor::inChild(parent);
                           runWorker(s, i);
                         }
                         return pid;
                       }});
  }
  log::info("event=signer_started workers=" + std::to_string(s.workers) + " socket=" + s.config.signer.socket);
  struct stat bound{};
  const bool have_bound = lstat(s.config.signer.socket.c_str(), &bound) == 0;
  const int rc = Supervisor(std::move(workers), s.config.signer.restart_backoff_ms).run();
  // Only our own socket goes: a newer signer may already have bound the path.
  struct stat now_there{};
  if (have_bound && lstat(s.config.signer.socket.c_str(), &now_there) == 0 && now_there.st_dev == bound.st_dev &&
      now_there.st_ino == bound.st_ino)
    ::unlink(s.config.signer.socket.c_str());
  log::info("event=signer_stopped");
  return rc;
}

}  // namespace

int SignerApp::main(const std::vector<std::string>& args) {
  log::setProcessName("mpay-signer");
  if (configPath().empty() || !args.empty()) {
    return usageError("mpay-signer", "--config FILE is required, and nothing else", kUsage);
  }
  signal(SIGPIPE, SIG_IGN);
  // Passwords, PINs and session keys pass through the workers' memory.
  if (auto no_dumps = forbidCoreDumps(); !no_dumps.ok()) {
    log::error("event=start_failed detail=\"" + no_dumps.error().detail + "\"");
    return kExitConfig;
  }
  auto startup = prepare(configPath());
  if (!startup) {
    log::error("event=start_failed code=" + std::string(errorName(startup.error().code)) + " detail=\"" +
               startup.error().detail + "\"");
    return kExitConfig;
  }
  return supervise(startup.value());
}

int runSigner(int argc, char** argv) {
  SignerApp app;
  return runCommandLine(app, argc, argv, "mpay-signer", kUsage);
}

}  // namespace mpay::signer
