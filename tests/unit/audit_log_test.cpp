#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <sstream>
#include <vector>

#include "common/audit_log.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

using test::readLines;
using test::writeLines;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/audit.log";
    auto log = AuditLog::open(path_);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i) {
      AuditEvent e{1000, "gateway", "open_login", static_cast<std::uint32_t>(i), {"service", "kek"}, "ok", "", ""};
      auto seq = log->append(e);
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(seq.value(), static_cast<std::uint64_t>(i + 1));
    }
  }
  test::TempDir dir_;
  std::string path_;
};

TEST_F(AuditLogTest, AnEditedLastRecordIsNotContinued) {
  auto lines = readLines(path_);
  const auto at = lines.back().find("\"open_login\"");
  ASSERT_NE(at, std::string::npos);
  lines.back().replace(at, 12, "\"open_pay_x\"");
  writeLines(path_, lines);
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log.ok());
  AuditEvent e{1000, "gateway", "health", 9, {}, "ok", "", ""};
  auto seq = log->append(e);
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.error().code, ErrorCode::kAuditUnavailable);
  EXPECT_EQ(readLines(path_).size(), 5u) << "nothing appended after the edit";
}

TEST_F(AuditLogTest, ChainVerifiesAndHeadMatches) {
  auto v = verifyAuditLog(path_);
  ASSERT_TRUE(v.ok()) << v.error().detail;
  EXPECT_EQ(v->records, 5u);
  auto head = readAuditHead(path_);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, 5u);
  EXPECT_EQ(head->hash, v->head_hash);
}

// Group commit: two processes with four threads each append at once; every
// record is in one unbroken chain and every caller got its own number.
TEST_F(AuditLogTest, ThreadsOfTwoProcessesAppendingAtOnceKeepOneChain) {
  constexpr int kThreads = 4, kEach = 100;
  auto appendFromThreads = [&](std::set<std::uint64_t>* seqs) {
    auto log = AuditLog::open(path_);
    if (!log.ok()) return false;
    std::mutex m;
    bool all_ok = true;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          AuditEvent e{1000, "gateway", "sign_receipt", static_cast<std::uint32_t>(t * kEach + i), {"receipt"}, "ok", "", ""};
          auto seq = log->append(e);
          std::lock_guard lock(m);
          all_ok = all_ok && seq.ok() && seqs->insert(seq.value()).second;
        }
      });
    for (auto& t : threads) t.join();
    return all_ok && log->flushes() >= 1 && log->flushes() <= kThreads * kEach;
  };
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::set<std::uint64_t> seqs;
    _exit(appendFromThreads(&seqs) && seqs.size() == kThreads * kEach ? 0 : 1);
  }
  std::set<std::uint64_t> seqs;
  EXPECT_TRUE(appendFromThreads(&seqs));
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kThreads * kEach));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto v = verifyAuditLog(path_);
  ASSERT_TRUE(v.ok()) << v.error().detail;
  EXPECT_EQ(v->records, 5u + 2 * kThreads * kEach);
}

TEST_F(AuditLogTest, TheTailIsTheLastWholeRecordsOldestFirst) {
  const auto lines = readLines(path_);
  auto three = readAuditTail(path_, 3);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three.value(), lines[2] + "\n" + lines[3] + "\n" + lines[4] + "\n");
  auto all = readAuditTail(path_, 20);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value(), lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n" + lines[3] + "\n" + lines[4] + "\n");
  // A record being written (no newline yet) is not shown.
  std::ofstream(path_, std::ios::app) << "deadbeef {\"seq\":6";
  auto torn = readAuditTail(path_, 1);
  ASSERT_TRUE(torn.ok());
  EXPECT_EQ(torn.value(), lines[4] + "\n");
}

TEST_F(AuditLogTest, ASummaryShowsWhatAnOperatorReadsAndNothingElse) {
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->append({1000, "gateway", "open_payment", 7, {"kek", "permit"}, "ok", "a note", "pin_tries=1/5"}).ok());
  auto summary = auditSummary(readLines(path_).back());
  ASSERT_TRUE(summary.ok()) << summary.error().detail;
  EXPECT_NE(summary->find("\"seq\":6"), std::string::npos) << summary.value();
  EXPECT_NE(summary->find("\"op\":\"open_payment\""), std::string::npos);
  EXPECT_NE(summary->find("\"keys\":[\"kek\",\"permit\"]"), std::string::npos);
  EXPECT_NE(summary->find("\"note\":\"a note\""), std::string::npos);
  for (const char* hidden : {"pin_tries", "\"uid\"", "\"pid\"", "\"prev\"", "\"request\""})
    EXPECT_EQ(summary->find(hidden), std::string::npos) << hidden << " in " << summary.value();
  EXPECT_FALSE(auditSummary("not a record").ok());
}

TEST_F(AuditLogTest, TheTailOfALongLogReadsOnlyItsEnd) {
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(log->append({1000, "gateway", "open_payment", 7, {"kek"}, "ok", std::string(200, 'n'), ""}).ok());
  auto tail = readAuditTail(path_, 20);
  ASSERT_TRUE(tail.ok());
  const auto lines = readLines(path_);
  std::string expected;
  for (std::size_t i = lines.size() - 20; i < lines.size(); ++i) expected += lines[i] + "\n";
  EXPECT_EQ(tail.value(), expected);
  EXPECT_EQ(readAuditTail(dir_.path() + "/missing.log", 3).error().code, ErrorCode::kAuditUnavailable);
  std::ofstream(dir_.path() + "/empty.log").flush();
  EXPECT_EQ(readAuditTail(dir_.path() + "/empty.log", 3).value(), "");
}

TEST_F(AuditLogTest, EditingAnyRecordIsDetected) {
  for (std::size_t target : {std::size_t{1}, std::size_t{4}}) {  // a middle record and the last one
    auto lines = readLines(path_);
    auto original = lines;
    auto at = lines[target].find("\"ok\"");
    lines[target].replace(at, 4, "\"no\"");
    writeLines(path_, lines);
    auto v = verifyAuditLog(path_);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().detail.find(":" + std::to_string(target + 1) + ":"), std::string::npos) << v.error().detail;
    writeLines(path_, original);
  }
}

TEST_F(AuditLogTest, DeletingARecordIsDetected) {
  auto lines = readLines(path_);
  lines.erase(lines.begin() + 2);
  writeLines(path_, lines);
  auto v = verifyAuditLog(path_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().detail.find(":3:"), std::string::npos) << v.error().detail;
}

TEST_F(AuditLogTest, ReorderingRecordsIsDetected) {
  auto lines = readLines(path_);
  std::swap(lines[1], lines[2]);
  writeLines(path_, lines);
  auto v = verifyAuditLog(path_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().detail.find(":2:"), std::string::npos) << v.error().detail;
}

// A write that never finished (a crash, a full disk) leaves bytes after the
// last newline: the next append cuts them, says so in its own record, and
// the chain still verifies. No operator needed.
TEST_F(AuditLogTest, ATornRecordIsCutBackToTheLastCompleteOne) {
  std::ofstream(path_, std::ios::app) << "0123abcd partial record without newline";
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log.ok());
  auto seq = log->append(AuditEvent{1, "gateway", "health", 1, {}, "ok", "", ""});
  ASSERT_TRUE(seq.ok()) << seq.error().detail;
  EXPECT_EQ(seq.value(), 6u);
  auto lines = readLines(path_);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines.back().find("cut a torn record of 39 bytes"), std::string::npos) << lines.back();
  auto verified = verifyAuditLog(path_);
  ASSERT_TRUE(verified.ok()) << verified.error().detail;
  EXPECT_EQ(verified->records, 6u);
}

TEST_F(AuditLogTest, ATornRecordLongerThanAnyRecordStaysFailedClosed) {
  std::ofstream(path_, std::ios::app) << std::string(10000, 'x');
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log.ok());
  auto seq = log->append(AuditEvent{1, "gateway", "health", 1, {}, "ok", "", ""});
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.error().code, ErrorCode::kAuditUnavailable);
}

TEST(AuditLog, UnwritableLogCannotBeOpened) {
  auto log = AuditLog::open("/proc/mpay-no-such-dir/audit.log");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kAuditUnavailable);
}

}  // namespace
}  // namespace mpay
