// The store's attempt counting for numbers with no user: counted and locked
// by the same rule as a user's, in one statement, and forgotten once it no
// longer matters. On SQLite in a temporary directory (the end-to-end suites
// run the same statements on PostgreSQL).
#include <gtest/gtest.h>

#include "gateway/store.h"
#include "support/dev_appliance.h"

namespace mpay::gateway {
namespace {

TEST(StoreAttempts, ANumberWithoutAUserLocksAtTheThresholdAndIsForgottenAfterTheLock) {
  test::TempDir dir;
  auto store = Store::open(dir.path() + "/mpay.db");
  ASSERT_TRUE(store.ok()) << store.error().message;
  Store& s = *store.value();
  const std::string phone = "+8613800138999";
  const std::int64_t t = 1'000'000, lock = 900;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t, t + lock, 5).value());
  EXPECT_FALSE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t, t + lock, 5).value()) << "locked";
  // The attempt that set the lock comes back (its secret was never checked): one more, then locked again.
  ASSERT_TRUE(s.returnAttempt(Guess::kPasswordWithoutUser, phone, 5).ok());
  EXPECT_TRUE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t + 1, t + lock, 5).value());
  EXPECT_FALSE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t + 1, t + lock, 5).value());
  // Other numbers are counted on their own.
  EXPECT_TRUE(s.spendAttempt(Guess::kPasswordWithoutUser, "+8613800138998", t, t + lock, 5).value());
  // Kept while locked; once the lock has run out the row goes, and counting starts again.
  ASSERT_TRUE(s.purgeGuessesWithoutUser(t + 10, t - 86400).ok());
  EXPECT_FALSE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t + 10, t + lock, 5).value());
  ASSERT_TRUE(s.purgeGuessesWithoutUser(t + lock, t - 86400).ok());
  EXPECT_TRUE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t + lock, t + 2 * lock, 5).value());
  // A count that never locked is forgotten a day after it began.
  ASSERT_TRUE(s.purgeGuessesWithoutUser(t + lock, t + lock + 1).ok());
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(s.spendAttempt(Guess::kPasswordWithoutUser, phone, t + lock, t + 2 * lock, 5).value()) << i;
}

}  // namespace
}  // namespace mpay::gateway
