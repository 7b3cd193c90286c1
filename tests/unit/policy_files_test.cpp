// Positive and negative fixtures for policy/*.syscalls and policy/*.fs.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "sandbox/policy_files.h"
#include "support/dev_appliance.h"

namespace mpay::sandbox {
namespace {

std::string shipped(const std::string& name) {
  std::ifstream in(test::sourceDir() + "/policy/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Config devLikeConfig() {
  Config c;
  c.hsm.token_dir = "/var/lib/mpay/token";
  c.hsm.softhsm2_conf = "/etc/mpay/softhsm2.conf";
  c.signer.audit_log = "/var/log/mpay/audit.log";
  c.gateway.db_url = "/var/lib/mpay/data/mpay.db";
  c.gateway.outbox = "/var/lib/mpay/data/outbox.jsonl";
  return c;
}

TEST(PolicyFiles, ShippedSyscallListsParseWithAReasonOnEveryLine) {
  for (const char* name : {"signer.syscalls", "gateway.syscalls"}) {
    auto p = SyscallPolicy::parse(shipped(name), name);
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_GT(p->allowed.size(), 20u);
    for (const auto& rule : p->allowed) EXPECT_FALSE(rule.reason.empty()) << name << ": " << rule.name;
  }
  auto signer = SyscallPolicy::parse(shipped("signer.syscalls"), "signer.syscalls").value();
  for (const auto& rule : signer.allowed) {
    EXPECT_NE(rule.name, "execve") << "the signer never executes programs";
    EXPECT_NE(rule.name, "ptrace");
    if (rule.name == "socket" || rule.name == "connect") {
      EXPECT_EQ(rule.refuse_errno, EACCES) << "the signer makes no socket and no connection after start-up";
    }
  }
}

TEST(PolicyFiles, ShippedListsNameNoSanitizerCallAndAnswerClone3WithEnosys) {
  for (const char* name : {"signer.syscalls", "gateway.syscalls"}) {
    auto p = SyscallPolicy::parse(shipped(name), name).value();
    bool clone3 = false, clone_for_threads = false;
    for (const auto& rule : p.allowed) {
      for (const char* sanitizer_only : {"sigaltstack", "pipe2", "sched_getaffinity", "gettid"})
        EXPECT_NE(rule.name, sanitizer_only) << name << ": belongs in tests/sandbox/";
      EXPECT_EQ(rule.reason.find("sanitizer"), std::string::npos) << name << ": " << rule.name;
      if (rule.name == "clone3") clone3 = rule.refuse_errno == ENOSYS;
      if (rule.name == "clone") clone_for_threads = rule.condition == "arg0=4001536" && rule.refuse_errno == 0;
      EXPECT_NE(rule.name, "fork");
      EXPECT_NE(rule.name, "vfork");
    }
    EXPECT_TRUE(clone3) << name;
    EXPECT_TRUE(clone_for_threads) << name;
  }
}

TEST(PolicyFiles, AnErrnoRuleRefusesWithThatErrorAndAnOverlayAddsOnlyNewCalls) {
  auto p = SyscallPolicy::parse("allow read\nerrno ENOSYS clone3  # why\n", "x.syscalls");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  EXPECT_EQ(p->allowed[1].refuse_errno, ENOSYS);
  EXPECT_EQ(p->allowed[1].refuse_name, "ENOSYS");
  auto e = SyscallPolicy::parse("errno EIO read\n", "x.syscalls");
  EXPECT_NE(e.error().detail.find("unknown errno 'EIO'"), std::string::npos);
  e = SyscallPolicy::parse("errno ENOSYS\n", "x.syscalls");
  EXPECT_FALSE(e.ok());
  auto overlay = SyscallPolicy::parse("allow read # other reason\nallow pipe2 # runtime\n", "o.syscalls").value();
  p->merge(overlay);
  ASSERT_EQ(p->allowed.size(), 3u);
  EXPECT_EQ(p->allowed[0].reason, "") << "the shipped rule stays";
  EXPECT_EQ(p->allowed[2].name, "pipe2");
}

TEST(PolicyFiles, SyscallListErrorsNameFileAndLine) {
  auto e = SyscallPolicy::parse("allow read\npermit write\n", "x.syscalls");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().detail.find("x.syscalls:2: unknown directive 'permit'"), std::string::npos) << e.error().detail;
  e = SyscallPolicy::parse("allow read\nallow not_a_syscall\n", "x.syscalls");
  EXPECT_NE(e.error().detail.find("unknown system call 'not_a_syscall'"), std::string::npos);
  e = SyscallPolicy::parse("allow read\nallow read\n", "x.syscalls");
  EXPECT_NE(e.error().detail.find("duplicate"), std::string::npos);
  e = SyscallPolicy::parse("allow socket arg0=AF_BLUETOOTH\n", "x.syscalls");
  EXPECT_NE(e.error().detail.find("unknown value"), std::string::npos);
  e = SyscallPolicy::parse("allow socket arg9=1\n", "x.syscalls");
  EXPECT_NE(e.error().detail.find("unknown condition"), std::string::npos);
}

TEST(PolicyFiles, AnEmptyListIsAnErrorNotAllowEverything) {
  auto e = SyscallPolicy::parse("# nothing here\n\n", "empty.syscalls");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().detail.find("empty allow-list"), std::string::npos);
  auto f = FsPolicy::parse("# nothing\n", "empty.fs", devLikeConfig());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().detail.find("empty rule list"), std::string::npos);
}

TEST(PolicyFiles, ShippedFsRulesResolveAgainstTheConfig) {
  auto signer = FsPolicy::parse(shipped("signer.fs"), "signer.fs", devLikeConfig());
  ASSERT_TRUE(signer.ok()) << signer.error().detail;
  ASSERT_EQ(signer->rules.size(), 3u);
  EXPECT_EQ(signer->rules[0].path, "/var/lib/mpay/token");
  EXPECT_EQ(signer->rules[0].access, FsAccess::kReadWrite);
  auto gateway = FsPolicy::parse(shipped("gateway.fs"), "gateway.fs", devLikeConfig());
  ASSERT_TRUE(gateway.ok()) << gateway.error().detail;
  EXPECT_EQ(gateway->rules.back().path, "/var/lib/mpay/data");
  for (const auto& rule : gateway->rules) EXPECT_EQ(rule.path.find("token"), std::string::npos) << rule.path;
  // With PostgreSQL there is no database file to allow.
  Config pg = devLikeConfig();
  pg.gateway.db_url = "postgresql://u:p@db/mpay";
  auto with_pg = FsPolicy::parse(shipped("gateway.fs"), "gateway.fs", pg);
  ASSERT_TRUE(with_pg.ok());
  EXPECT_EQ(with_pg->rules.size(), gateway->rules.size() - 1);
}

TEST(PolicyFiles, FsRuleErrors) {
  const Config c = devLikeConfig();
  EXPECT_NE(FsPolicy::parse("execute /usr\n", "x.fs", c).error().detail.find("unknown access 'execute'"), std::string::npos);
  EXPECT_NE(FsPolicy::parse("read usr/lib\n", "x.fs", c).error().detail.find("absolute"), std::string::npos);
  EXPECT_NE(FsPolicy::parse("read ${hsm.pin_file_typo}\n", "x.fs", c).error().detail.find("unknown config key"),
            std::string::npos);
  EXPECT_NE(FsPolicy::parse("read /etc extra\n", "x.fs", c).error().detail.find("x.fs:1"), std::string::npos);
}

}  // namespace
}  // namespace mpay::sandbox
