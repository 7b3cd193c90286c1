#include "support/running_appliance.h"

#include "common/processes.h"

#include "admin/token_clone.h"
#include "common/identity.h"
#include "gateway/store.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mpay::test {
namespace {

bool portFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Test processes run in parallel (ctest -j): ports are handed out in turn
// through a counter file they share under flock, so two appliances never
// race for the same free port, and below the kernel's ephemeral range, so a
// client connection never takes one between the check and the bind.
// Three in a row: the gateway, the acquirer simulator, the metrics listener
// (dev-setup's layout).
}  // namespace

int threeFreePorts() {
  constexpr int kFirst = 20000, kTriples = 4000;  // 20000..31999
  const int fd = ::open("/tmp/mpay-test-ports", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock /tmp/mpay-test-ports");
  char text[16] = {};
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  long next = n > 0 ? std::strtol(text, nullptr, 10) : static_cast<long>(getpid() % kTriples);
  int port = -1;
  for (int i = 0; i < kTriples && port < 0; ++i, ++next) {
    const int p = kFirst + static_cast<int>(next % kTriples) * 3;
    if (portFree(p) && portFree(p + 1) && portFree(p + 2)) port = p;
  }
  const std::string stored = std::to_string(next % kTriples);
  const bool saved = ftruncate(fd, 0) == 0 && pwrite(fd, stored.data(), stored.size(), 0) == static_cast<ssize_t>(stored.size());
  ::close(fd);  // releases the lock
  if (port < 0 || !saved) throw std::runtime_error("no free ports");
  return port;
}

namespace {

HttpAnswer exchange(int port, const std::string& method, const std::string& path, const std::string* body,
                    const std::string& ca_file = "", const std::string& authorization = "",
                    const std::string& extra_header = "") {
  std::unique_ptr<Poco::Net::HTTPClientSession> owned;
  if (ca_file.empty()) {
    owned = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", static_cast<Poco::UInt16>(port));
  } else {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                                             Poco::Net::Context::VERIFY_STRICT, 9, false);
    owned = std::make_unique<Poco::Net::HTTPSClientSession>("localhost", static_cast<Poco::UInt16>(port), context);
  }
  Poco::Net::HTTPClientSession& session = *owned;
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!authorization.empty()) req.set("Authorization", authorization);
  std::istringstream headers(extra_header);
  for (std::string line; std::getline(headers, line);)
    if (const auto colon = line.find(": "); colon != std::string::npos) req.set(line.substr(0, colon), line.substr(colon + 2));
  if (body) {
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body->size()));
    session.sendRequest(req) << *body;
  } else {
    session.sendRequest(req);
  }
  Poco::Net::HTTPResponse resp;
  std::string text;
  Poco::StreamCopier::copyToString(session.receiveResponse(resp), text);
  HttpAnswer answer{static_cast<int>(resp.getStatus()), text, {}};
  for (const auto& [name, value] : resp) answer.headers[Poco::toLower(name)] = value;
  return answer;
}

std::string pgAdminUrl() {
  const char* url = std::getenv("MPAY_TEST_PG_URL");
  if (!url || !*url) throw std::runtime_error("MPAY_E2E_DB=postgresql needs MPAY_TEST_PG_URL (scripts/start-test-postgres)");
  return url;
}

// postgresql://user:pw@host:port/postgres -> .../<database>
std::string withDatabase(const std::string& admin_url, const std::string& database) {
  return admin_url.substr(0, admin_url.rfind('/') + 1) + database;
}

void adminSql(const std::string& statement) {
  (void)gateway::Store::open(":memory:");  // registers both connectors
  try {
    auto connection = gateway::postgresConnectionString(pgAdminUrl());
    if (!connection)
      throw std::runtime_error("MPAY_TEST_PG_URL '" + pgAdminUrl() + "': " + connection.error().message);
    Poco::Data::Session s("PostgreSQL", connection.value());
    s << statement, Poco::Data::Keywords::now;
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("PostgreSQL admin: " + e.displayText());
  }
}

}  // namespace

std::string RunningAppliance::backend() {
  const char* db = std::getenv("MPAY_E2E_DB");
  return db && std::string(db) == "postgresql" ? "postgresql" : "sqlite";
}

void RunningAppliance::sql(const std::string& statement) const {
  const std::string& url = dev_->config().gateway.db_url;
  (void)gateway::Store::open(":memory:");
  const bool pg = url.rfind("postgresql://", 0) == 0;
  Poco::Data::Session s(pg ? "PostgreSQL" : "SQLite", pg ? gateway::postgresConnectionString(url).value() : url);
  s << statement, Poco::Data::Keywords::now;
}

std::string jsonField(const std::string& json, const std::string& key) {
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    return o->has(key) ? o->get(key).toString() : "";
  } catch (const Poco::Exception&) {
    return "";
  }
}

RunningAppliance::RunningAppliance(const std::string& settings, bool tls, const std::string& run_as,
                                   const std::string& signer_ops)
    : tls_(tls) {
  port_ = threeFreePorts();
  std::string db_setting;
  if (backend() == "postgresql") {
    pg_database_ = "mpay_e2e_" + std::to_string(getpid()) + "_" + std::to_string(port_);
    adminSql("CREATE DATABASE " + pg_database_);
    db_setting = "gateway.db_url = " + withDatabase(pgAdminUrl(), pg_database_) + "\n";
  }
  dev_ = std::make_shared<DevAppliance>(
      "signer.pkcs12_iterations = 10000\ngateway.acquirer_timeout_ms = 1000\n"
      "gateway.rate_per_phone = 1000\ngateway.rate_per_source = 100000\n" + db_setting +
          (tls ? "gateway.tls_cert = ${DIR}/tls/gateway.pem\ngateway.tls_key = ${DIR}/tls/gateway.key\n" : "") + settings,
      port_);
  if (!signer_ops.empty()) std::ofstream(dev_->config().policy_dir + "/signer.ops", std::ios::trunc) << signer_ops;
  start(run_as);
}

RunningAppliance::RunningAppliance(const ClusterMembership& member, const std::string& settings,
                                   const std::string& signer_ops) {
  port_ = threeFreePorts();
  dev_ = std::make_shared<DevAppliance>(
      "signer.pkcs12_iterations = 10000\ngateway.acquirer_timeout_ms = 1000\n"
      "gateway.rate_per_phone = 1000\ngateway.rate_per_source = 100000\n"
      "gateway.db_url = " + member.db_url + "\n-[acquirer_sim]\n" + settings,
      port_);
  if (member.token_from) {
    // A second appliance starts from an empty token directory.
    for (const auto& entry : std::filesystem::directory_iterator(dev_->config().hsm.token_dir))
      std::filesystem::remove_all(entry.path());
    auto cloned = admin::cloneSoftHsmToken(member.token_from->dev().config(), dev_->config());
    if (!cloned) throw std::runtime_error("token clone: " + cloned.error().detail);
  }
  if (!signer_ops.empty()) std::ofstream(dev_->config().policy_dir + "/signer.ops", std::ios::trunc) << signer_ops;
  start("");
}

RunningAppliance::RunningAppliance(const RunningAppliance& shape, int port)
    : dev_(shape.dev_), port_(port), tls_(shape.tls_) {}

void RunningAppliance::start(const std::string& run_as) {
  const std::string binary = binDir() + "/mpayd";
  const std::string log = dev_->dir() + "/mpayd.log";
  std::optional<Account> account;
  if (!run_as.empty()) {
    auto found = lookupAccount(run_as);
    if (!found) throw std::runtime_error(found.error().detail);
    account = found.value();
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dev_->dir()))
      if (lchown(entry.path().c_str(), account->uid, account->gid) != 0) throw std::runtime_error("chown failed");
    if (lchown(dev_->dir().c_str(), account->uid, account->gid) != 0) throw std::runtime_error("chown failed");
  }
  pid_ = fork();
  if (pid_ == 0) {
    FILE* out = freopen(log.c_str(), "a", stderr);
    (void)out;
    if (account && !becomeAccount(*account).ok()) _exit(126);
    // Sandboxed daemons run without LeakSanitizer: its exit-time check needs
    // ptrace, which their seccomp lists rightly forbid. In-process tests keep it.
    // A sanitizer report must get out of a sandboxed process: no
    // llvm-symbolizer to start (raw addresses, for addr2line on the binary)
    // and no isatty ioctl to choose colours.
    setenv("ASAN_OPTIONS", "detect_leaks=0:symbolize=0:color=never", 1);
    execl(binary.c_str(), binary.c_str(), "--config", dev_->configPath().c_str(), nullptr);
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (get("/healthz").status == 200) return;
    } catch (const Poco::Exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The destructor does not run for a constructor that throws: stop mpayd here.
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  throw std::runtime_error("appliance did not become healthy; its log:\n" + text.str());
}

long RunningAppliance::stop(int within_ms) {
  if (pid_ <= 0) return 0;
  const auto started = std::chrono::steady_clock::now();
  kill(pid_, SIGTERM);
  long took = -1;
  while (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(within_ms)) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      took = static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (took < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  return took;
}

RunningAppliance::~RunningAppliance() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // A failed test leaves its appliance's log in the test output.
  if (::testing::Test::HasFailure()) {
    const std::string text = log();
    std::cerr << "---- mpayd.log (last 6000 bytes) ----\n" << text.substr(text.size() > 6000 ? text.size() - 6000 : 0)
              << "---- end of mpayd.log ----\n";
  }
  if (!pg_database_.empty()) {
    try {
      adminSql("DROP DATABASE IF EXISTS " + pg_database_);
    } catch (const Poco::Exception&) {
    }
  }
}

std::vector<pid_t> childrenOf(pid_t parent, const std::string& binary) { return childProcesses(parent, binary); }

bool RunningAppliance::healthyWithin(int seconds) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      if (get("/healthz").status == 200) return true;
    } catch (const Poco::Exception&) {  // the gateway itself may be restarting
    }
  }
  return false;
}

std::string RunningAppliance::log() const {
  std::ifstream in(dev_->dir() + "/mpayd.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

CommandOutput RunningAppliance::client(const std::string& device, const std::string& args) const {
  return run("mpay-client", "--state " + dev_->dir() + "/" + device + " " + args);
}

CommandOutput RunningAppliance::bench(const std::string& args) const {
  return run("mpay-bench", "--outbox " + dev_->config().gateway.outbox + " " + args);
}

CommandOutput RunningAppliance::benchAsGateway(const std::string& args) const {
  const std::string as = geteuid() == 0 ? "runuser -u " + dev_->config().gateway.user + " -- " : "";
  return runCommand(as + binDir() + "/mpay-bench --server " + url() + (tls_ ? " --ca " + dev_->config().public_dir + "/ca.pem" : "") +
                    " --outbox " + dev_->config().gateway.outbox + " " + args);
}

CommandOutput RunningAppliance::admin(const std::string& args) const {
  return runCommand(binDir() + "/mpay-admin --config " + dev_->configPath() + " " + args);
}

CommandOutput RunningAppliance::run(const std::string& binary, const std::string& args) const {
  const std::string ca = tls_ ? " --ca " + dev_->config().public_dir + "/ca.pem" : "";
  return runCommand(binDir() + "/" + binary + " --server " + url() + ca + " " + args);
}

CommandOutput RunningAppliance::runCommand(const std::string& command_line) const {
  const std::string cmd = command_line + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string RunningAppliance::confirmationCode(const std::string& phone) const {
  std::ifstream in(dev_->config().gateway.outbox);
  std::string line, code;
  while (std::getline(in, line))
    if (jsonField(line, "phone") == phone) code = jsonField(line, "code");
  return code;
}

std::string RunningAppliance::enroll(const std::string& device, const std::string& phone) {
  auto reg = client(device, "register --phone '" + phone + "' --imei 356938035643809 --sim 89860012345678901234"
                            " --password '" + kPassword + "' --pin " + kPin + " --name 'Zhang San' --id-number 110101199003070000 --json");
  if (reg.exit_code != 0) throw std::runtime_error("register: " + reg.output);
  const std::string rc = jsonField(reg.output, "registration_code");
  auto act = client(device, "activate --registration-code " + rc + " --confirmation-code " + confirmationCode(phone));
  if (act.exit_code != 0) throw std::runtime_error("activate: " + act.output);
  return phone;
}

HttpAnswer RunningAppliance::post(const std::string& path, const std::string& body, const std::string&) const {
  return exchange(port_, "POST", path, &body, tls_ ? dev_->config().public_dir + "/ca.pem" : "");
}

HttpAnswer RunningAppliance::get(const std::string& path) const {
  return exchange(port_, "GET", path, nullptr, tls_ ? dev_->config().public_dir + "/ca.pem" : "");
}

std::string RunningAppliance::raw(const std::string& bytes) const {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
  socket.setReceiveTimeout(Poco::Timespan(15, 0));
  try {  // the gateway may answer and close before it has read everything
    socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    socket.shutdownSend();
  } catch (const Poco::Exception&) {
  }
  std::string out;
  char buf[4096];
  try {
    int n;
    while ((n = socket.receiveBytes(buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  } catch (const Poco::Exception&) {
  }
  return out;
}

HttpAnswer RunningAppliance::acquirerControl(const std::string& json) const {
  return exchange(port_ + 1, "POST", "/control", &json);
}

HttpAnswer RunningAppliance::acquirerStats() const { return exchange(port_ + 1, "GET", "/control", nullptr); }

HttpAnswer RunningAppliance::acquirerLedger() const { return exchange(port_ + 1, "GET", "/ledger", nullptr); }

HttpAnswer RunningAppliance::metrics(const std::string& path) const { return exchange(port_ + 2, "GET", path, nullptr); }

HttpAnswer RunningAppliance::console(const std::string& method, const std::string& authorization,
                                     const std::string& extra_header) const {
  return exchange(port_ + 2, method, "/console", nullptr, "", authorization, extra_header);
}

std::string RunningAppliance::consoleToken() const {
  auto lines = readLines(dev_->dir() + "/console.token");
  return lines.empty() ? std::string() : lines.front();
}

void expectOrdersClosedAndBooksBalanced(const RunningAppliance& app, const std::string& ledger_file) {
  std::string open;
  // The completer runs every 2 s; another appliance's order waits a minute for it.
  for (int i = 0; i < 150; ++i) {
    open = app.admin("orders").output;
    if (open.find("open: 0 ") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_NE(open.find("open: 0 "), std::string::npos) << open;
  auto books = app.admin("reconcile --ledger " + ledger_file);
  std::printf("%s", books.output.c_str());
  EXPECT_EQ(books.exit_code, 0) << books.output;
  EXPECT_NE(books.output.find("discrepancies: 0"), std::string::npos) << books.output;
}

std::string raisedBudgets() {
  std::ifstream in(sourceDir() + "/policy/signer.ops");
  std::stringstream text;
  text << in.rdbuf();
  std::string ops = std::regex_replace(text.str(), std::regex("rate=[0-9]+/s"), "rate=1000000/s");
  return std::regex_replace(ops, std::regex("per_user=[0-9]+/min"), "per_user=100000000/min");
}

}  // namespace mpay::test
