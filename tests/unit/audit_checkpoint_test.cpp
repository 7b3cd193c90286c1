// Signed checkpoints of the audit chain: what the unkeyed chain cannot
// detect (a rewrite with every hash after it recomputed, a cut-off tail) is
// caught by a checkpoint's signature or by the exported checkpoint.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "common/audit_log.h"
#include "suite/ec.h"
#include "suite/primitives.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

suite::EcPrivateKey newKey() {
  return suite::EcPrivateKey::generate([](std::size_t n) -> Result<Secret> {
           return Secret::copyOf(ByteView(suite::randomBytes(n)));
         }).value();
}

using test::readLines;

// What anyone who can write the file can do: edit, then recompute every
// hash and link after the edit so that the chain verifies again.
void rewriteAndRechain(const std::string& path, std::size_t index, const std::string& from, const std::string& to) {
  auto lines = readLines(path);
  std::string prev(64, '0');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string body = lines[i].substr(65);
    if (i == index) body.replace(body.find(from), from.size(), to);
    const auto at = body.rfind("\"prev\":\"");
    body.replace(at + 8, 64, prev);
    prev = hexEncode(suite::sha256(asBytes(body)));
    lines[i] = prev + " " + body;
  }
  test::writeLines(path, lines);
}

class AuditCheckpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/audit.log";
    anchor_path_ = dir_.path() + "/audit-checkpoint.json";
    export_fd_ = ::open(anchor_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(export_fd_, 0);
  }
  void TearDown() override { ::close(export_fd_); }

  AuditLog openLog(std::uint32_t every_records, std::uint32_t every_seconds) {
    auto log = AuditLog::open(path_);
    EXPECT_TRUE(log.ok());
    AuditCheckpoints c;
    c.every_records = every_records;
    c.every_seconds = every_seconds;
    c.clock = clock_;
    c.export_fd = export_fd_;
    c.uid = 999;
    c.sign = [this](ByteView digest) { return key_.signDigestP1363(digest); };
    log->checkpoints(std::move(c));
    return std::move(log).value();
  }
  void append(AuditLog& log, int n) {
    for (int i = 0; i < n; ++i) {
      AuditEvent e{995, "gateway", "open_login", static_cast<std::uint32_t>(i), {"service"}, "ok", "", ""};
      ASSERT_TRUE(log.append(e).ok());
    }
  }
  std::string anchor() const {
    std::ifstream in(anchor_path_);
    std::string line;
    std::getline(in, line);
    return line;
  }

  test::TempDir dir_;
  std::string path_, anchor_path_;
  int export_fd_ = -1;
  AuditCheckpointClock* clock_ = AuditCheckpointClock::createShared();
  suite::EcPrivateKey key_ = newKey();
};

TEST_F(AuditCheckpointsTest, ARewriteBeforeACheckpointIsDetectedEvenWithTheChainRebuilt) {
  AuditLog log = openLog(3, 3600);
  append(log, 8);
  auto signed_log = verifyAuditLog(path_, key_.publicKey());
  ASSERT_TRUE(signed_log.ok()) << signed_log.error().detail;
  EXPECT_GE(signed_log->checkpoints, 2u);

  rewriteAndRechain(path_, 1, "\"result\":\"ok\"", "\"result\":\"bad_password\"");
  EXPECT_TRUE(verifyAuditLog(path_).ok()) << "the unkeyed chain alone cannot see a consistent rewrite";
  auto checked = verifyAuditLog(path_, key_.publicKey());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().detail.find("checkpoint signature does not verify"), std::string::npos)
      << checked.error().detail;
}

TEST_F(AuditCheckpointsTest, ALogCutOrRewrittenBeforeTheExportedCheckpointIsDetected) {
  AuditLog log = openLog(4, 3600);
  append(log, 9);
  const std::string exported = anchor();
  ASSERT_FALSE(exported.empty());
  ASSERT_TRUE(verifyAuditLog(path_, key_.publicKey(), exported).ok());

  // Rewrite the exported checkpoint's records: a re-signed chain would need
  // the audit key; even the same key cannot make its record hash match.
  rewriteAndRechain(path_, 2, "\"op\":\"open_login\"", "\"op\":\"open_payment\"");
  auto rewritten = verifyAuditLog(path_, key_.publicKey(), exported);
  ASSERT_FALSE(rewritten.ok());

  auto lines = readLines(path_);
  std::ofstream(path_, std::ios::trunc) << lines[0] << "\n" << lines[1] << "\n";
  auto cut = verifyAuditLog(path_, key_.publicKey(), exported);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().detail.find("cut off"), std::string::npos) << cut.error().detail;
}

TEST_F(AuditCheckpointsTest, RecordsThatStopAreSignedOnceTheIntervalPassesAndAnIdleLogGetsNoMore) {
  // The interval is an hour; the test moves the shared clock's last
  // checkpoint back instead of sleeping (a one-second interval measured in
  // whole seconds is crossed by any two appends that straddle a second).
  AuditLog log = openLog(1000, 3600);
  append(log, 1);  // the first batch after start: a checkpoint at once
  append(log, 2);
  auto before = verifyAuditLog(path_, key_.publicKey());
  ASSERT_TRUE(before.ok()) << before.error().detail;
  EXPECT_EQ(before->checkpoints, 1u);
  EXPECT_EQ(before->records, 4u) << "record, checkpoint, two records not yet signed";

  log.checkpointIfDue();
  EXPECT_EQ(verifyAuditLog(path_, key_.publicKey())->checkpoints, 1u) << "the interval has not passed";

  clock_->at -= 3600;
  log.checkpointIfDue();
  auto after = verifyAuditLog(path_, key_.publicKey());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->checkpoints, 2u);
  EXPECT_EQ(after->last_covered, 4u);

  clock_->at -= 3600;
  log.checkpointIfDue();
  EXPECT_EQ(verifyAuditLog(path_, key_.publicKey())->checkpoints, 2u) << "nothing new, no checkpoint";
}

TEST_F(AuditCheckpointsTest, AnotherKeyOrNoCheckpointProvesNothing) {
  {
    auto plain = AuditLog::open(path_);
    AuditEvent e{995, "gateway", "health", 1, {}, "ok", "", ""};
    ASSERT_TRUE(plain->append(e).ok());
  }
  auto unsigned_log = verifyAuditLog(path_, key_.publicKey());
  ASSERT_FALSE(unsigned_log.ok());
  EXPECT_NE(unsigned_log.error().detail.find("no signed checkpoint"), std::string::npos);

  AuditLog log = openLog(2, 3600);
  append(log, 3);
  EXPECT_TRUE(verifyAuditLog(path_, key_.publicKey()).ok());
  EXPECT_FALSE(verifyAuditLog(path_, newKey().publicKey()).ok());
}

}  // namespace
}  // namespace mpay
