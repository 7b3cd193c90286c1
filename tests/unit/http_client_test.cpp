// What the gateway reads from the peers it calls (the acquirer): bounded.
#include <gtest/gtest.h>

#include <sstream>

#include "gateway/http_client.h"

namespace mpay::gateway {
namespace {

TEST(ReadAtMost, AnAnswerUpToTheLimitIsReadWhole) {
  std::istringstream exact(std::string(16, 'a'));
  EXPECT_EQ(readAtMost(exact, 16), std::string(16, 'a'));
  std::istringstream empty("");
  EXPECT_EQ(readAtMost(empty, 16), std::string());
}

TEST(ReadAtMost, OneByteMoreIsRefused) {
  std::istringstream longer(std::string(17, 'a'));
  EXPECT_EQ(readAtMost(longer, 16), std::nullopt);
  std::istringstream huge(std::string(1 << 20, 'a'));
  EXPECT_EQ(readAtMost(huge, 4096), std::nullopt);
}

}  // namespace
}  // namespace mpay::gateway
