// The confirmation-code outbox: a code is claimed by one sender of the
// appliances sharing a database, never handed out after its registration
// expired, replaced when its phone registers again, and gone (with the phone
// number) once sent. On SQLite, with two stores on one file as two
// appliances; the end-to-end suites run the same statements on PostgreSQL.
#include <gtest/gtest.h>

#include <barrier>
#include <set>
#include <thread>

#include "gateway/store.h"
#include "support/dev_appliance.h"

namespace mpay::gateway {
namespace {

constexpr std::int64_t kNow = 1'000'000;
const OutboxClaim kNobody{};

class StoreOutbox : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = Store::open(dir_.path() + "/mpay.db");
    auto b = Store::open(dir_.path() + "/mpay.db");
    ASSERT_TRUE(a.ok() && b.ok());
    one_ = std::move(a).value();
    other_ = std::move(b).value();
  }
  // The id of the code `s` claims at `at` for `by`, or "" for none.
  std::string claim(Store& s, std::int64_t at, const std::string& by) {
    auto claimed = s.claimOutbox(at, {by, at + 30});
    EXPECT_TRUE(claimed.ok());
    return claimed.ok() && claimed.value() ? claimed.value()->id : "";
  }

  test::TempDir dir_;
  std::unique_ptr<Store> one_, other_;
};

TEST_F(StoreOutbox, ACodeIsClaimedByOneSenderUntilItsHolderReleasesItOrTheClaimRunsOut) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, kNobody).ok());
  ASSERT_TRUE(one_->addOutbox({"b", "+8613800138002", "22222222"}, kNow + 1, kNow + 900, kNobody).ok());
  EXPECT_EQ(claim(*one_, kNow + 1, "one"), "a") << "oldest first";
  EXPECT_EQ(claim(*other_, kNow + 1, "other"), "b") << "the other appliance gets the next";
  EXPECT_EQ(claim(*one_, kNow + 2, "one"), "") << "both are claimed";
  ASSERT_TRUE(one_->releaseOutbox("b", "one", kNow + 2).ok());
  EXPECT_EQ(claim(*one_, kNow + 2, "one"), "") << "a release by another sender than the holder frees nothing";
  ASSERT_TRUE(other_->releaseOutbox("b", "other", kNow + 10).ok());
  EXPECT_EQ(claim(*one_, kNow + 9, "one"), "") << "released for a retry from kNow + 10";
  EXPECT_EQ(claim(*one_, kNow + 10, "one"), "b");
  EXPECT_EQ(claim(*other_, kNow + 31, "other"), "a") << "a dead sender's claim runs out";
}

TEST_F(StoreOutbox, TwoAppliancesClaimingAtOnceEachTakeACodeOnlyOnce) {
  constexpr int kCodes = 40;
  for (int i = 0; i < kCodes; ++i)
    ASSERT_TRUE(one_->addOutbox({"c" + std::to_string(i), "+86138001381" + std::to_string(10 + i), "1"}, kNow + i,
                                kNow + 900, kNobody)
                    .ok());
  std::barrier start(2);
  std::vector<std::string> taken[2];
  auto drain = [&](Store& store, int who) {
    start.arrive_and_wait();
    for (;;) {
      auto claimed = store.claimOutbox(kNow + kCodes, {"sender-" + std::to_string(who), kNow + kCodes + 30});
      ASSERT_TRUE(claimed.ok());
      if (!claimed.value()) return;
      taken[who].push_back(claimed.value()->id);
    }
  };
  std::thread a(drain, std::ref(*one_), 0), b(drain, std::ref(*other_), 1);
  a.join();
  b.join();
  std::set<std::string> all(taken[0].begin(), taken[0].end());
  all.insert(taken[1].begin(), taken[1].end());
  EXPECT_EQ(taken[0].size() + taken[1].size(), static_cast<std::size_t>(kCodes)) << "a code was taken twice";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kCodes)) << "a code was taken twice or not at all";
}

TEST_F(StoreOutbox, ACodeTheRequestSendsItselfIsNotHandedOutMeanwhile) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, {"request", kNow + 30}).ok());
  EXPECT_EQ(claim(*other_, kNow, "other"), "");
  ASSERT_TRUE(one_->markDelivered("a").ok());
  EXPECT_EQ(claim(*other_, kNow + 30, "other"), "") << "sent: gone";
}

TEST_F(StoreOutbox, AnExpiredCodeIsNeverSentAndIsPurged) {
  ASSERT_TRUE(one_->addOutbox({"a", "+8613800138001", "11111111"}, kNow, kNow + 900, kNobody).ok());
  EXPECT_EQ(claim(*one_, kNow + 900, "one"), "") << "its registration has expired";
  ASSERT_TRUE(one_->purgeExpiredOutbox(kNow + 900).ok());
  EXPECT_EQ(claim(*one_, kNow, "one"), "") << "purged: not even an earlier clock finds it";
}

TEST_F(StoreOutbox, ARegistrationAgainReplacesTheCodeNotSentYet) {
  ASSERT_TRUE(one_->addOutbox({"old", "+8613800138001", "11111111"}, kNow, kNow + 900, kNobody).ok());
  ASSERT_TRUE(one_->addOutbox({"other", "+8613800138002", "33333333"}, kNow + 1, kNow + 900, kNobody).ok());
  ASSERT_TRUE(one_->addOutbox({"new", "+8613800138001", "22222222"}, kNow + 2, kNow + 902, kNobody).ok());
  EXPECT_EQ(claim(*one_, kNow + 2, "one"), "other");
  auto next = one_->claimOutbox(kNow + 2, {"one", kNow + 32});
  ASSERT_TRUE(next.ok() && next.value());
  EXPECT_EQ(next.value()->id, "new");
  EXPECT_EQ(next.value()->code, "22222222");
  EXPECT_EQ(claim(*one_, kNow + 2, "one"), "") << "the old code is gone";
}

}  // namespace
}  // namespace mpay::gateway
