// Separate identities. Started as root (as CI runs the tests), mpayd runs the
// signer as mpay-signer and the gateway as mpay-gw, without capabilities and
// with no_new_privs; the files' owners and modes keep each user away from
// the other's secrets, and a user with no role cannot reach the signer.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "common/identity.h"
#include "common/ownership.h"
#include "gateway/signer_client.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

std::map<std::string, std::string> procStatus(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    fields[line.substr(0, colon)] = line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return fields;
}

// Runs `body` in a child that has become `user`; returns its exit status.
int asUser(const std::string& user, const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    auto account = lookupAccount(user);
    if (!account || !becomeAccount(*account).ok()) _exit(250);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 251;
}

// 0 if `user` can open `path` for reading, else the errno.
int openErrno(const std::string& user, const std::string& path) {
  return asUser(user, [&] {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? 0 : errno;
  });
}

int connectErrno(const std::string& user, const std::string& socket_path) {
  return asUser(user, [&] {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  });
}

class IdentitiesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "separate users need root (CI runs the tests as root)";
    app_ = std::make_unique<test::RunningAppliance>();
  }
  std::unique_ptr<test::RunningAppliance> app_;
};

void expectConfined(pid_t pid, const std::string& user, bool sandboxed) {
  auto account = lookupAccount(user);
  ASSERT_TRUE(account.ok());
  auto status = procStatus(pid);
  const std::string uid = std::to_string(account->uid);
  EXPECT_EQ(status["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid) << user;
  EXPECT_EQ(status["CapEff"], "0000000000000000") << user;
  EXPECT_EQ(status["CapPrm"], "0000000000000000") << user;
  EXPECT_EQ(status["CapBnd"], "0000000000000000") << user;
  EXPECT_EQ(status["CapAmb"], "0000000000000000") << user;
  EXPECT_EQ(status["NoNewPrivs"], "1") << user;
  // No core dumps: RLIMIT_CORE is 0, and the process is not dumpable (the
  // kernel then gives the files of its /proc directory to root, although it runs as `user`).
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string line, core;
  while (std::getline(limits, line))
    if (line.rfind("Max core file size", 0) == 0) core = line;
  EXPECT_TRUE(std::regex_search(core, std::regex("^Max core file size +0 +0 "))) << user << ": " << core;
  struct stat proc{};
  ASSERT_EQ(stat(("/proc/" + std::to_string(pid) + "/status").c_str(), &proc), 0);
  EXPECT_EQ(proc.st_uid, 0u) << user << " is dumpable";
  if (sandboxed) {
    EXPECT_EQ(status["Seccomp"], "2") << user;
  }
}

TEST_F(IdentitiesE2E, EachProcessRunsAsItsOwnUserWithoutCapabilities) {
  auto signers = test::childrenOf(app_->mpaydPid(), "mpay-signer");
  auto gateways = test::childrenOf(app_->mpaydPid(), "mpay-gateway");
  ASSERT_EQ(signers.size(), 1u);
  ASSERT_EQ(gateways.size(), 1u);
  expectConfined(signers[0], "mpay-signer", false);
  // /healthz needs one worker: the others may still be starting (not yet sandboxed).
  auto workers = test::childrenOf(signers[0]);
  for (int i = 0; i < 100; ++i) {
    bool all_sandboxed = !workers.empty();
    for (pid_t worker : workers) all_sandboxed = all_sandboxed && procStatus(worker)["Seccomp"] == "2";
    if (all_sandboxed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    workers = test::childrenOf(signers[0]);
  }
  ASSERT_FALSE(workers.empty());
  for (pid_t worker : workers) expectConfined(worker, "mpay-signer", true);
  expectConfined(gateways[0], "mpay-gw", true);
}

TEST_F(IdentitiesE2E, TheGatewayUserCannotOpenTheTokenThePinOrTheAuditLog) {
  const auto& c = app_->dev().config();
  for (const std::string& path : {c.hsm.token_dir, c.hsm.pin_file, c.signer.audit_log, c.hsm.softhsm2_conf}) {
    EXPECT_EQ(openErrno("mpay-gw", path), EACCES) << path;
    EXPECT_EQ(openErrno("mpay-signer", path), 0) << path << ": the signer itself can";
  }
}

TEST_F(IdentitiesE2E, OnlyTheGatewayUserCanOpenTheDatabase) {
  const auto& c = app_->dev().config();
  // PostgreSQL keeps its data elsewhere: then the gateway's data directory (the outbox's).
  const std::string data = test::RunningAppliance::backend() == "sqlite"
                               ? c.gateway.db_url
                               : c.gateway.outbox.substr(0, c.gateway.outbox.rfind('/'));
  EXPECT_EQ(openErrno("mpay-signer", data), EACCES) << data;
  EXPECT_EQ(openErrno("nobody", data), EACCES) << data;
  EXPECT_EQ(openErrno("mpay-gw", data), 0) << data;
}

TEST_F(IdentitiesE2E, AnUnrelatedUserCannotConnectToTheSignerSocket) {
  const std::string socket = app_->dev().config().signer.socket;
  EXPECT_EQ(connectErrno("nobody", socket), EACCES);
  EXPECT_EQ(connectErrno("mpay-gw", socket), 0);
}

TEST_F(IdentitiesE2E, TheGatewayRoleCannotCallAdminOperations) {
  const std::string socket = app_->dev().config().signer.socket;
  auto statusOf = [&](wire::OpId op) {
    return asUser("mpay-gw", [&] {
      auto client = gateway::SignerClient::connect(socket, 5000);
      if (!client) return 252;
      auto body = client->exchangeRaw(wire::encodeRequest(op, 7, {}));
      if (!body || body->size() < wire::kHeaderLen) return 253;
      return ((*body)[1] << 8) | (*body)[2];
    });
  };
  EXPECT_EQ(statusOf(wire::OpId::kAuditHead), static_cast<int>(ErrorCode::kNotPermitted));
  EXPECT_EQ(statusOf(wire::OpId::kPlatformInfo), static_cast<int>(ErrorCode::kOk));
}

TEST(SingleUserMode, StartedAsAnotherUserEverythingRunsAsThatUserAndTheLogSaysSo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to start the appliance as another user";
  test::RunningAppliance app("", false, "nobody");
  auto nobody = lookupAccount("nobody");
  ASSERT_TRUE(nobody.ok());
  const std::string uid = std::to_string(nobody->uid);
  std::vector<pid_t> all{app.mpaydPid()};
  for (pid_t child : test::childrenOf(app.mpaydPid())) {
    all.push_back(child);
    for (pid_t grandchild : test::childrenOf(child)) all.push_back(grandchild);
  }
  EXPECT_GE(all.size(), 5u) << "mpayd, the signer and its workers, the simulator, the gateway";
  for (pid_t pid : all) EXPECT_EQ(procStatus(pid)["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid) << pid;
  EXPECT_NE(app.log().find("event=identity mode=single-user"), std::string::npos) << app.log();
  EXPECT_EQ(app.log().find("mode=separated"), std::string::npos);
  app.enroll("phone", "+8613800138040");
  EXPECT_EQ(app.client("phone", std::string("login --password '") + test::kPassword + "'").exit_code, 0);
}

// What a service user may have left in its own directory, for root to find
// at the next start: root's file must keep its owner and mode.
class FileOwners : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    const std::string& audit_log = dev_.config().signer.audit_log;
    audit_dir_ = audit_log.substr(0, audit_log.rfind('/'));
    std::ofstream(rootFile()) << "x";
    ASSERT_EQ(chmod(rootFile().c_str(), 0600), 0);
  }
  std::string rootFile() const { return dev_.dir() + "/root-only"; }
  Status assign() {
    auto signer = lookupAccount("mpay-signer");
    auto gateway = lookupAccount("mpay-gw");
    EXPECT_TRUE(signer.ok() && gateway.ok());
    return assignOwnership(dev_.config(), *signer, *gateway);
  }
  // The start is refused, and the message says why.
  void expectRefused(const std::string& why) {
    auto owned = assign();
    ASSERT_FALSE(owned.ok()) << "expected a refusal: " << why;
    EXPECT_NE(owned.error().detail.find(why), std::string::npos) << owned.error().detail;
  }
  void expectRootFileUntouched() const {
    struct stat st {};
    ASSERT_EQ(stat(rootFile().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "root's file keeps its owner";
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }

  test::DevAppliance dev_;
  std::string audit_dir_;
};

TEST_F(FileOwners, ALinkInAServiceUsersDirectoryIsRefusedNotFollowed) {
  ASSERT_EQ(symlink(rootFile().c_str(), (audit_dir_ + "/planted").c_str()), 0);
  expectRefused("a symbolic link");
  expectRootFileUntouched();
}

TEST_F(FileOwners, ALinkedDirectoryIsRefusedNotEntered) {
  ASSERT_EQ(symlink(dev_.dir().c_str(), (audit_dir_ + "/elsewhere").c_str()), 0);
  expectRefused("a symbolic link");
  expectRootFileUntouched();
}

TEST_F(FileOwners, AFileWithASecondNameIsRefused) {
  ASSERT_EQ(link(rootFile().c_str(), (audit_dir_ + "/second-name").c_str()), 0);
  expectRefused("a file with more than one name");
  expectRootFileUntouched();
}

TEST_F(FileOwners, AnythingButFilesAndDirectoriesIsRefused) {
  ASSERT_EQ(mkfifo((audit_dir_ + "/fifo").c_str(), 0600), 0);
  expectRefused("neither a file nor a directory");
}

TEST_F(FileOwners, NestedDirectoriesAndFilesGoToTheirUser) {
  const std::string nested = audit_dir_ + "/a/b";
  std::filesystem::create_directories(nested);
  std::ofstream(nested + "/f") << "x";
  ASSERT_TRUE(assign().ok());
  auto signer = lookupAccount("mpay-signer");
  ASSERT_TRUE(signer.ok());
  for (const auto& [path, mode] : {std::pair{audit_dir_ + "/a", 0700u}, {nested, 0700u}, {nested + "/f", 0600u}}) {
    struct stat st {};
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, signer->uid) << path;
    EXPECT_EQ(st.st_mode & 07777, mode) << path;
  }
}

TEST(GatewayIdentity, TheGatewayRefusesToRunAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  test::DevAppliance dev;
  const std::string log = dev.dir() + "/err.log";
  const std::string cmd = test::binDir() + "/mpay-gateway --config " + dev.configPath() + " 2>" + log;
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream err(log);
  std::stringstream text;
  text << err.rdbuf();
  EXPECT_NE(text.str().find("refusing to run as root"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace mpay
