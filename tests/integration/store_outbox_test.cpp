// The confirmation-code outbox: a code is claimed by one sender of the
// appliances sharing a database, never handed out after its registration
// expired, replaced when its phone registers again, and gone (with the phone
// number) once sent. On SQLite, with two stores on one file as two
// appliances; the end-to-end suites run the same statements on PostgreSQL.
#include <gtest/gtest.h>

#include "gateway/store.h"
#include "support/dev_appliance.h"

namespace mpay::gateway {
namespace {

constexpr std::int64_t kNow = 1'000'000;

class StoreOutbox : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = Store::open(dir_.path() + "/mpay.db");
    auto b = Store::open(dir_.path() + "/mpay.db");
    ASSERT_TRUE(a.ok() && b.ok());
    one_ = std::move(a).value();
    other_ = std::move(b).value();
  }
  std::vector<std::string> ids(Store& s, std::int64_t at, std::int64_t until, int limit = 10) {
    auto claimed = s.claimOutbox(at, until, limit);
    EXPECT_TRUE(claimed.ok());
    std::vector<std::string> out;
    for (const auto& m : claimed.value()) out.push_back(m.id);
    return out;
  }

  test::TempDir dir_;
  std::unique_ptr<Store> one_, other_;
};

TEST_F(StoreOutbox, ACodeIsClaimedByOneSenderUntilItIsReleasedOrItsClaimRunsOut) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, 0).ok());
  ASSERT_TRUE(one_->addOutbox({"b", "+8613800138002", "22222222"}, kNow, kNow + 900, 0).ok());
  EXPECT_EQ(ids(*one_, kNow, kNow + 120, 1), std::vector<std::string>{"a"}) << "oldest first, at most the limit";
  EXPECT_EQ(ids(*other_, kNow, kNow + 120), std::vector<std::string>{"b"}) << "the other appliance gets the rest";
  EXPECT_TRUE(ids(*one_, kNow + 1, kNow + 121).empty()) << "both are claimed";
  ASSERT_TRUE(other_->releaseOutbox("b", kNow + 5).ok());
  EXPECT_TRUE(ids(*one_, kNow + 4, kNow + 124).empty()) << "released for a retry from kNow + 5";
  EXPECT_EQ(ids(*one_, kNow + 5, kNow + 125), std::vector<std::string>{"b"});
  EXPECT_EQ(ids(*other_, kNow + 120, kNow + 240), std::vector<std::string>{"a"}) << "a dead sender's claim runs out";
}

TEST_F(StoreOutbox, ACodeTheRequestSendsItselfIsNotHandedOutMeanwhile) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, kNow + 120).ok());
  EXPECT_TRUE(ids(*other_, kNow, kNow + 120).empty());
  ASSERT_TRUE(one_->markDelivered("a").ok());
  EXPECT_TRUE(ids(*other_, kNow + 120, kNow + 240).empty()) << "sent: gone";
}

TEST_F(StoreOutbox, AnExpiredCodeIsNeverSentAndIsPurged) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, 0).ok());
  EXPECT_TRUE(ids(*one_, kNow + 900, kNow + 1020).empty()) << "its registration has expired";
  ASSERT_TRUE(one_->purgeExpiredOutbox(kNow + 900).ok());
  ASSERT_TRUE(one_->releaseOutbox("a", 0).ok());
  EXPECT_TRUE(ids(*one_, kNow, kNow + 120).empty()) << "purged: not even an earlier clock finds it";
}

TEST_F(StoreOutbox, ARegistrationAgainReplacesTheCodeNotSentYet) {
  ASSERT_TRUE(one_->addOutbox({"old", "+8613800138001", "11111111"}, kNow, kNow + 900, 0).ok());
  ASSERT_TRUE(one_->addOutbox({"other", "+8613800138002", "33333333"}, kNow, kNow + 900, 0).ok());
  ASSERT_TRUE(one_->addOutbox({"new", "+8613800138001", "22222222"}, kNow + 1, kNow + 901, 0).ok());
  auto claimed = one_->claimOutbox(kNow + 1, kNow + 121, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ(claimed.value()[0].id, "other");
  EXPECT_EQ(claimed.value()[1].id, "new");
  EXPECT_EQ(claimed.value()[1].code, "22222222");
}

}  // namespace
}  // namespace mpay::gateway
