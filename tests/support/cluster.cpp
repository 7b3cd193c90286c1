#include "support/cluster.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/identity.h"

namespace mpay::test {
namespace {

namespace fs = std::filesystem;

std::string postgresBin() {
  std::string newest;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql"))
    if (entry.path().filename().string() > newest) newest = entry.path().filename().string();
  return "/usr/lib/postgresql/" + newest + "/bin/";
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = freopen(log.c_str(), "a", stdout);
    FILE* err = freopen(log.c_str(), "a", stderr);
    (void)out;
    (void)err;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stopProcess(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 50 && waitpid(pid, nullptr, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (kill(pid, 0) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid = -1;
}

}  // namespace

PostgresPair::PostgresPair() {
  try {
    start();
  } catch (...) {
    stop();
    throw;
  }
}

void PostgresPair::start() {
  primary_port_ = threeFreePorts();
  standby_port_ = primary_port_ + 1;
  std::string tmpl = (fs::temp_directory_path() / "mpay-pg-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  chmod(dir_.c_str(), 0755);
  if (geteuid() == 0) {
    auto postgres = lookupAccount("postgres");
    if (!postgres) throw std::runtime_error("no postgres account (scripts/install-deps installs PostgreSQL)");
    if (chown(dir_.c_str(), postgres->uid, postgres->gid) != 0) throw std::runtime_error("chown " + dir_);
  }
  const std::string server = "-c listen_addresses=127.0.0.1 -k " + dir_ + " -c max_connections=200 -c fsync=on";
  run(pgCommand("initdb", "-D " + dir_ + "/primary -A trust -U postgres --no-instructions"));
  run(pgCommand("pg_ctl", "-D " + dir_ + "/primary -l " + dir_ + "/primary.log -w -o '" + server + " -p " +
                              std::to_string(primary_port_) + "' start"));
  run(pgCommand("psql", "-h " + dir_ + " -p " + std::to_string(primary_port_) +
                            " -U postgres -q -v ON_ERROR_STOP=1 -c \"CREATE ROLE mpay LOGIN PASSWORD 'mpay'\" "
                            "-c 'CREATE DATABASE mpay OWNER mpay'"));
  run(pgCommand("pg_basebackup", "-h " + dir_ + " -p " + std::to_string(primary_port_) + " -U postgres -D " + dir_ +
                                     "/standby -R -X stream -c fast"));
  std::ofstream(dir_ + "/standby/postgresql.auto.conf", std::ios::app) << "cluster_name = 'standby'\n";
  run(pgCommand("pg_ctl", "-D " + dir_ + "/standby -l " + dir_ + "/standby.log -w -o '" + server + " -p " +
                              std::to_string(standby_port_) + "' start"));
  // Synchronous from now on: a commit returns once the standby has it.
  run(pgCommand("psql", "-h " + dir_ + " -p " + std::to_string(primary_port_) +
                            " -U postgres -q -v ON_ERROR_STOP=1 -c \"ALTER SYSTEM SET synchronous_standby_names = "
                            "'standby'\" -c 'SELECT pg_reload_conf()'"));
  for (int i = 0; i < 100 && !standbyIsSynchronous(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!standbyIsSynchronous()) throw std::runtime_error("the standby did not become synchronous");
}

PostgresPair::~PostgresPair() { stop(); }

void PostgresPair::stop() {
  if (dir_.empty()) return;
  for (const char* node : {"primary", "standby"}) {
    const std::string command = pgCommand("pg_ctl", "-D " + dir_ + "/" + node + " -m immediate stop") + " >/dev/null 2>&1";
    (void)std::system(command.c_str());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_.clear();
}

std::string PostgresPair::pgCommand(const std::string& tool, const std::string& args) const {
  const std::string as = geteuid() == 0 ? "runuser -u postgres -- " : "";
  return "cd / && " + as + postgresBin() + tool + " " + args;
}

void PostgresPair::run(const std::string& command) const {
  const std::string quiet = command + " >>" + dir_ + "/setup.log 2>&1";
  if (std::system(quiet.c_str()) != 0) {
    std::ifstream in(dir_ + "/setup.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw std::runtime_error("failed: " + command + "\n" + text);
  }
}

std::string PostgresPair::url() const {
  return "postgresql://mpay:mpay@127.0.0.1:" + std::to_string(primary_port_) + ",127.0.0.1:" +
         std::to_string(standby_port_) + "/mpay?target_session_attrs=read-write&connect_timeout=2";
}

std::string PostgresPair::failoverCommand() const {
  return pgCommand("pg_ctl", "-D " + dir_ + "/primary -m immediate stop") + " >/dev/null && " +
         pgCommand("pg_ctl", "-D " + dir_ + "/standby -w promote") + " >/dev/null";
}

bool PostgresPair::standbyIsSynchronous() const {
  const std::string command = pgCommand("psql", "-h " + dir_ + " -p " + std::to_string(primary_port_) +
                                                    " -U postgres -Atc \"SELECT sync_state FROM pg_stat_replication\"");
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return false;
  char buf[64] = {};
  const std::size_t n = fread(buf, 1, sizeof buf - 1, pipe);
  pclose(pipe);
  return std::string(buf, n).rfind("sync", 0) == 0;
}

Cluster::Cluster(const std::string& settings, int balancer_rate_per_minute) {
  try {
    start(settings, balancer_rate_per_minute);
  } catch (...) {
    stop();  // a constructor that throws has no destructor run
    throw;
  }
}

void Cluster::start(const std::string& settings, int balancer_rate_per_minute) {
  a_ = std::make_unique<RunningAppliance>(ClusterMembership{db_.url(), nullptr}, settings, raisedBudgets());
  // The acquirer is outside both appliances: it outlives either of them.
  const std::string sim_dir = a_->dev().dir() + "/data";
  acquirer_ = spawn({binDir() + "/mpay-acquirer-sim", "--port", std::to_string(a_->port() + 1), "--signing-key",
                     sim_dir + "/acquirer-sim.key", "--ledger", sim_dir + "/acquirer-ledger.jsonl"},
                    a_->dev().dir() + "/acquirer-sim.log");
  b_ = std::make_unique<RunningAppliance>(
      ClusterMembership{db_.url(), a_.get()},
      settings + "gateway.acquirer_url = http://127.0.0.1:" + std::to_string(a_->port() + 1) +
          "\nsigner.acquirer_certificate = " + a_->dev().config().signer.acquirer_certificate +
          "\ngateway.outbox = " + a_->dev().config().gateway.outbox + "\n",
      raisedBudgets());

  // HAProxy: round robin over both, /healthz checked twice a second, a
  // request that could not reach an appliance sent to the other, and the
  // per-source limit for the whole cluster in its stick table.
  balancer_port_ = threeFreePorts();
  haproxy_dir_ = a_->dev().dir() + "/haproxy";
  fs::create_directories(haproxy_dir_);
  std::ifstream in(sourceDir() + "/docs/haproxy-cluster.cfg");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& [placeholder, value] :
       {std::pair<std::string, std::string>{"@BALANCER_ADDRESS@", "127.0.0.1:" + std::to_string(balancer_port_)},
        {"@RATE_PER_MINUTE@", std::to_string(balancer_rate_per_minute)},
        {"@STATS_SOCKET@", haproxy_dir_ + "/admin.sock"},
        {"@APPLIANCE_A@", "127.0.0.1:" + std::to_string(a_->port())},
        {"@APPLIANCE_B@", "127.0.0.1:" + std::to_string(b_->port())}}) {
    const auto at = config.find(placeholder);
    if (at == std::string::npos) throw std::runtime_error("docs/haproxy-cluster.cfg has no " + placeholder);
    config.replace(at, placeholder.size(), value);
  }
  std::ofstream(haproxy_dir_ + "/haproxy.cfg") << config;
  haproxy_ = spawn({"/usr/sbin/haproxy", "-db", "-f", haproxy_dir_ + "/haproxy.cfg"}, haproxy_dir_ + "/haproxy.log");
  front_ = std::make_unique<RunningAppliance>(*a_, balancer_port_);
  // Both servers up: /healthz through the balancer answers from each in turn.
  for (int i = 0; i < 100; ++i) {
    try {
      if (front_->get("/healthz").status == 200 && a_->metrics().body.find("healthz") != std::string::npos &&
          b_->metrics().body.find("healthz") != std::string::npos)
        return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("HAProxy did not reach both appliances");
}

Cluster::~Cluster() { stop(); }

void Cluster::stop() {
  stopProcess(haproxy_);
  front_.reset();
  b_.reset();
  stopProcess(acquirer_);
  a_.reset();
}

std::string Cluster::balancerStatus(const std::string& server) const {
  const std::string path = haproxy_dir_ + "/admin.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  std::string out;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string command = "show stat\n";
    if (write(fd, command.data(), command.size()) == static_cast<ssize_t>(command.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  if (fd >= 0) close(fd);
  // CSV: pxname,svname,...,status is the 18th field.
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    if (fields.size() > 17 && fields[0] == "appliances" && fields[1] == server) return fields[17];
  }
  return "";
}

long Cluster::requestsServed(const RunningAppliance& app) const {
  const std::string text = app.metrics().body;
  static const std::regex line(R"(mpay_http_requests_total\{([^}]*)\} ([0-9.e+]+))");
  long total = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
    if ((*it)[1].str().find("healthz") == std::string::npos) total += static_cast<long>(std::stod((*it)[2].str()));
  return total;
}

}  // namespace mpay::test
