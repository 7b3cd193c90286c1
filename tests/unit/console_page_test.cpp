// The console page and its credential file, without a gateway.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "gateway/console.h"
#include "gateway/console_page.h"
#include "support/dev_appliance.h"

namespace mpay::gateway {
namespace {

TEST(ConsolePage, EveryValueIsEscaped) {
  ConsoleView v;
  v.now = 1'800'000'000;
  v.version = "0.1.0";
  v.signer = "ok";
  v.hsm = "degraded";
  v.database = "<b>database_unavailable</b>";
  v.open_orders.push_back({"<script>alert(1)</script>", "unknown", "1.00 CNY", "-", 5});
  v.audit.push_back({7, 1'800'000'000, "gateway", "open_payment", "ok", "kek", "note \"quoted\" & 'single'"});
  const std::string page = renderConsolePage(v);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("note &quot;quoted&quot; &amp; &#39;single&#39;"), std::string::npos);
  EXPECT_NE(page.find("id=\"health-hsm\" class=\"warn\">degraded<"), std::string::npos);
  EXPECT_NE(page.find("id=\"health-database\" class=\"bad\">&lt;b&gt;"), std::string::npos);
  EXPECT_NE(page.find("2027-01-15 08:00:00"), std::string::npos) << "times in UTC";
  EXPECT_NE(page.find("id=\"open-orders-count\">1<"), std::string::npos);
  EXPECT_NE(page.find("no request answered yet"), std::string::npos);
}

class ConsoleTokenFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text, mode_t mode) {
    const std::string path = dir_.path() + "/console.token";
    std::ofstream(path, std::ios::trunc) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  test::TempDir dir_;
};

TEST_F(ConsoleTokenFile, ATokenOfThirtyTwoBytesOnlyItsOwnerReads) {
  const std::string token(64, 'a');
  EXPECT_TRUE(ConsoleCredential::load(write(token + "\n", 0600)).ok());
  EXPECT_TRUE(ConsoleCredential::load(write(token, 0400)).ok());
  EXPECT_EQ(ConsoleCredential::load(write(token, 0640)).error().code, ErrorCode::kConfig) << "group-readable";
  EXPECT_EQ(ConsoleCredential::load(write(token, 0604)).error().code, ErrorCode::kConfig) << "world-readable";
  EXPECT_EQ(ConsoleCredential::load(write(std::string(31, 'a') + "\n", 0600)).error().code, ErrorCode::kConfig);
  EXPECT_EQ(ConsoleCredential::load(write("", 0600)).error().code, ErrorCode::kConfig);
  EXPECT_EQ(ConsoleCredential::load(dir_.path() + "/none").error().code, ErrorCode::kConfig);
  // A FIFO at the path is refused at once, not waited on.
  const std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ConsoleCredential::load(fifo).error().code, ErrorCode::kConfig);
  // Another user's file is refused (as root, a file handed to nobody).
  if (geteuid() == 0) {
    const std::string theirs = write(token, 0600);
    ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
    EXPECT_EQ(ConsoleCredential::load(theirs).error().code, ErrorCode::kConfig);
  }
}

}  // namespace
}  // namespace mpay::gateway
