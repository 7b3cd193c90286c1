// A full disk under the audit log or the database, for real: small tmpfs
// mounts in a private mount namespace of this test process (the test
// command runs as root), which mpayd and its children inherit. While full,
// requests fail closed (503) and /healthz says so; once space returns the
// next requests succeed without an operator, and nothing half-written stays.
#include <gtest/gtest.h>

#include <sched.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <Poco/Data/Session.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/identity.h"
#include "common/audit_log.h"
#include "gateway/store.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

// A fresh directory with a 16 MiB tmpfs on it, owned by `account`, seen only
// by this process and its children. Empty (errno says why) when it cannot be made.
std::string privateTmpfs(const std::string& account) {
  static bool unshared = [] {
    return ::unshare(CLONE_NEWNS) == 0 && ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  }();
  auto owner = lookupAccount(account);
  if (!unshared || !owner) return "";
  char templ[] = "/tmp/mpay-full-XXXXXX";
  if (!::mkdtemp(templ)) return "";
  const std::string options = "size=16m,mode=0700,uid=" + std::to_string(owner->uid) + ",gid=" + std::to_string(owner->gid);
  if (::mount("tmpfs", templ, "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) return "";
  return templ;
}

// Fills `dir`'s filesystem to the last byte; returns the filler's path.
std::string fill(const std::string& dir) {
  const std::string filler = dir + "/filler";
  const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  static const std::string block(64 * 1024, 'x');
  for (std::size_t n = block.size(); n > 0; n /= 2)
    while (::write(fd, block.data(), n) == static_cast<ssize_t>(n)) {
    }
  ::close(fd);
  return filler;
}

std::string error(const test::HttpAnswer& a) { return test::jsonField(a.body, "error"); }

bool healthyWithin(const test::RunningAppliance& app, int seconds) { return app.healthyWithin(seconds); }

TEST(DiskFullE2E, AFullAuditDiskFailsClosedAndHealsWhenSpaceReturns) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace (the test command runs as root)";
  const std::string audit = privateTmpfs("mpay-signer");
  ASSERT_FALSE(audit.empty()) << "no private tmpfs: " << std::strerror(errno);
  // The state file is allocated whole at start (it never grows): it lives beside the small disk.
  test::RunningAppliance app("signer.audit_log = " + audit + "/audit.log\nsigner.state_file = " + audit + ".state\n");
  app.enroll("phone", "+8613800138060");
  const std::string login = std::string("login --password '") + test::kPassword + "'";
  ASSERT_EQ(app.client("phone", login).exit_code, 0);

  const std::string filler = fill(audit);
  // The log's last page may still have room for a few records; then nothing more is written.
  test::CommandOutput refused;
  for (int i = 0; i < 40 && refused.exit_code != 1; ++i) refused = app.client("phone", login);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("signer_unavailable"), std::string::npos) << refused.output;
  EXPECT_NE(app.client("phone", login).exit_code, 0) << "still full: still refused";
  EXPECT_NE(app.log().find("event=audit_failed"), std::string::npos);

  std::remove(filler.c_str());
  auto healed = app.client("phone", login);
  EXPECT_EQ(healed.exit_code, 0) << healed.output << app.log();
  // Nothing half-written stayed: the chain verifies to its last record.
  auto verified = verifyAuditLog(audit + "/audit.log");
  EXPECT_TRUE(verified.ok()) << (verified.ok() ? "" : verified.error().detail);
  std::remove((audit + ".state").c_str());
}

TEST(DiskFullE2E, AFullDatabaseDiskIs503UntilSpaceReturnsAndTheDatabaseStaysWhole) {
  if (test::RunningAppliance::backend() != "sqlite") GTEST_SKIP() << "PostgreSQL's disk is the database server's";
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace (the test command runs as root)";
  const std::string data = privateTmpfs("mpay-gw");
  ASSERT_FALSE(data.empty()) << "no private tmpfs: " << std::strerror(errno);
  test::RunningAppliance app("gateway.db_url = " + data + "/mpay.db\n");
  app.enroll("phone", "+8613800138061");
  ASSERT_EQ(app.get("/healthz").status, 200);

  const std::string filler = fill(data);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the last write probe
  auto health = app.get("/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(error(health), "database_unavailable") << health.body;
  auto refused = app.client("phone", std::string("login --password '") + test::kPassword + "'");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("database_unavailable"), std::string::npos) << refused.output;

  std::remove(filler.c_str());
  EXPECT_TRUE(healthyWithin(app, 10)) << app.log();
  auto healed = app.client("phone", std::string("login --password '") + test::kPassword + "'");
  EXPECT_EQ(healed.exit_code, 0) << healed.output;
  (void)gateway::Store::open(":memory:");  // registers the SQLite connector
  Poco::Data::Session s("SQLite", data + "/mpay.db");
  std::string integrity;
  s << "PRAGMA integrity_check", Poco::Data::Keywords::into(integrity), Poco::Data::Keywords::now;
  EXPECT_EQ(integrity, "ok");
}

}  // namespace
}  // namespace mpay
