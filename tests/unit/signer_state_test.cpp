// The signer's own state (signer/signer_state.h) and its rules
// (policy/signer.limits), with a clock the test moves.
#include <gtest/gtest.h>

#include "signer/signer_state.h"
#include "support/dev_appliance.h"

namespace mpay::signer {
namespace {

SignerLimits smallLimits() {
  auto limits = SignerLimits::parse(
      "password_threshold 3\npassword_lock_s 600\npassword_daily 7\npin_threshold 3\npin_lock_s 600\npin_daily 7\n"
      "timestamp_window_s 300\nusers 1024\nphones 1024\nlogin_nonces 1024\nsessions 1024\npermits 1024\nforeign_permits 1024\naudit_checkpoint_records 1000\naudit_checkpoint_seconds 60\n",
      "test.limits");
  EXPECT_TRUE(limits.ok()) << limits.error().detail;
  return limits.value();
}

class SignerStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<SignerState> open(const SignerLimits& limits) {
    auto state = SignerState::open(dir_.path() + "/signer.state", limits);
    EXPECT_TRUE(state.ok()) << state.error().detail;
    return state.ok() ? std::move(state).value() : nullptr;
  }
  ErrorCode guess(SignerState& s, bool right, const GuessOf& whose = {Guess::kPin, "+8613800138000", kKey}) {
    auto taken = s.takeGuess(whose, now_, &change_);
    if (!taken.ok()) return taken.error().code;
    s.settleGuess(whose, right, now_, &change_);
    return right ? ErrorCode::kOk : ErrorCode::kBadPin;
  }
  static inline const Bytes kKey = Bytes(65, 4), kOtherKey = Bytes(65, 5);
  test::TempDir dir_;
  std::uint64_t now_ = 1'800'000'000;
  std::string change_;
};

TEST_F(SignerStateTest, TheThresholdLocksForItsTimeAndTheDayLimitForTheDay) {
  auto s = open(smallLimits());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true), ErrorCode::kPinLocked);
  now_ += 600;  // the lock ran out: three more
  for (int i = 0; i < 3; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, false), ErrorCode::kPinLocked);
  now_ += 600;
  EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);  // the 7th of the day locks until the day is over
  EXPECT_EQ(guess(*s, false), ErrorCode::kPinLocked);
  now_ += 3600;
  EXPECT_EQ(guess(*s, true), ErrorCode::kPinLocked);
  now_ = 1'800'000'000 + 86400;
  EXPECT_EQ(guess(*s, true), ErrorCode::kOk);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true), ErrorCode::kOk);  // a right one ends the run, not the day's count
  for (int i = 0; i < 2; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true), ErrorCode::kOk);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true), ErrorCode::kOk);
  EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);  // the 7th wrong of the day, right ones between
  EXPECT_EQ(guess(*s, true), ErrorCode::kPinLocked);
  EXPECT_NE(change_.find("pin_locked_until="), std::string::npos);
}

TEST_F(SignerStateTest, TriesInFlightCountBeforeTheyAreSettled) {
  auto s = open(smallLimits());
  const GuessOf password{Guess::kPassword, "+86138", kKey};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s->takeGuess(password, now_, &change_).ok());
  EXPECT_EQ(s->takeGuess(password, now_, &change_).error().code, ErrorCode::kPasswordLocked);
  s->returnGuess(password, now_, &change_);  // one could not be checked
  EXPECT_TRUE(s->takeGuess(password, now_, &change_).ok());
  EXPECT_TRUE(s->takeGuess({Guess::kPin, "+86138", kKey}, now_, &change_).ok());  // another secret, another count
}

// A count per key: another key's right answer (a certificate minted for the
// number) clears nothing, and its wrong ones lock nobody else.
TEST_F(SignerStateTest, CountsArePerKeyAndANumberIsHeldByTheKeyOfItsFirstLogin) {
  auto s = open(smallLimits());
  const GuessOf mine{Guess::kPin, "+86138", kKey}, minted{Guess::kPin, "+86138", kOtherKey};
  for (int i = 0; i < 2; ++i) EXPECT_EQ(guess(*s, false, mine), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true, minted), ErrorCode::kOk);
  EXPECT_EQ(guess(*s, false, mine), ErrorCode::kBadPin);
  EXPECT_EQ(guess(*s, true, mine), ErrorCode::kPinLocked);

  const Bytes platform = Bytes(400, 7), next_platform = Bytes(400, 8);
  EXPECT_TRUE(s->checkOwner("+86138", platform, kOtherKey, now_).ok());  // nobody holds it yet
  EXPECT_TRUE(s->bindOwner("+86138", platform, kKey, now_ + 1000, now_, &change_).ok());
  EXPECT_TRUE(s->checkOwner("+86138", platform, kKey, now_).ok());
  EXPECT_EQ(s->checkOwner("+86138", platform, kOtherKey, now_).error().code, ErrorCode::kBadCertificate);
  EXPECT_EQ(s->bindOwner("+86138", platform, kOtherKey, now_ + 1000, now_, &change_).error().code,
            ErrorCode::kBadCertificate);
  EXPECT_TRUE(s->checkOwner("+86138", next_platform, kOtherKey, now_).ok());  // after new-platform, nobody holds it
  now_ += 1000;  // the owner's certificate expired: the number is free again
  EXPECT_TRUE(s->checkOwner("+86138", platform, kOtherKey, now_).ok());
}

TEST_F(SignerStateTest, EverythingSurvivesReopeningTheFile) {
  std::uint64_t permit = 0;
  {
    auto s = open(smallLimits());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(guess(*s, false), ErrorCode::kBadPin);
    EXPECT_TRUE(s->spendLoginNonce("+86138", Bytes(16, 1), now_, now_, &change_).ok());
    EXPECT_TRUE(s->advanceCounter(Bytes(16, 2), 5, now_, now_ + 900, now_, &change_).ok());
    permit = s->issuePermit(&change_).value();
    EXPECT_TRUE(s->spendPermit(permit, Bytes(32, 3), &change_).ok());
  }
  auto s = open(smallLimits());
  EXPECT_EQ(guess(*s, true), ErrorCode::kPinLocked);
  EXPECT_EQ(s->spendLoginNonce("+86138", Bytes(16, 1), now_, now_, &change_).error().code, ErrorCode::kReplayed);
  EXPECT_EQ(s->advanceCounter(Bytes(16, 2), 5, now_, now_ + 900, now_, &change_).error().code, ErrorCode::kReplayed);
  EXPECT_TRUE(s->advanceCounter(Bytes(16, 2), 6, now_, now_ + 900, now_, &change_).ok());
  EXPECT_TRUE(s->spendPermit(permit, Bytes(32, 3), &change_).ok());  // the same answer
  EXPECT_EQ(s->spendPermit(permit, Bytes(32, 4), &change_).error().code, ErrorCode::kPermitSpent);
  EXPECT_EQ(s->issuePermit(&change_).value(), permit + 1);  // numbers are never given twice
}

TEST_F(SignerStateTest, NoncesAreKeptForTheirWindowAndStaleTimestampsRefused) {
  auto s = open(smallLimits());
  EXPECT_EQ(s->spendLoginNonce("+86138", Bytes(16, 1), now_ - 301, now_, &change_).error().code,
            ErrorCode::kStaleTimestamp);
  EXPECT_EQ(s->spendLoginNonce("+86138", Bytes(16, 1), now_ + 301, now_, &change_).error().code,
            ErrorCode::kStaleTimestamp);
  EXPECT_TRUE(s->spendLoginNonce("+86138", Bytes(16, 1), now_ + 300, now_, &change_).ok());
  EXPECT_EQ(s->spendLoginNonce("+86138", Bytes(16, 1), now_ + 300, now_ + 600, &change_).error().code,
            ErrorCode::kReplayed);  // as long as the timestamp is fresh, the nonce is remembered
  EXPECT_TRUE(s->spendLoginNonce("+86139", Bytes(16, 1), now_, now_, &change_).ok());  // per user
}

TEST_F(SignerStateTest, AnotherAppliancesPermitBindsOneAnswerHereUntilItExpiresAcrossReopening) {
  const Bytes other_epoch(16, 9), third_epoch(16, 10);
  {
    auto s = open(smallLimits());
    EXPECT_TRUE(s->spendForeignPermit(other_epoch, 7, now_ + 100, Bytes(32, 3), now_, &change_).ok());
    EXPECT_NE(change_.find("foreign_permit="), std::string::npos) << change_;
  }
  auto s = open(smallLimits());
  EXPECT_TRUE(s->spendForeignPermit(other_epoch, 7, now_ + 100, Bytes(32, 3), now_, &change_).ok());  // same answer
  EXPECT_EQ(s->spendForeignPermit(other_epoch, 7, now_ + 100, Bytes(32, 4), now_, &change_).error().code,
            ErrorCode::kPermitSpent);
  // Another number, or the same number of another appliance, is another permit.
  EXPECT_TRUE(s->spendForeignPermit(other_epoch, 8, now_ + 100, Bytes(32, 4), now_, &change_).ok());
  EXPECT_TRUE(s->spendForeignPermit(third_epoch, 7, now_ + 100, Bytes(32, 4), now_, &change_).ok());
  // Past its expiry the slot is free again (the handler refuses an expired permit before it gets here).
  EXPECT_TRUE(s->spendForeignPermit(other_epoch, 7, now_ + 300, Bytes(32, 5), now_ + 101, &change_).ok());
}

TEST_F(SignerStateTest, PermitsOlderThanTheTableAreRefusedAndAFullTableSaysSo) {
  auto s = open(smallLimits());
  const std::uint64_t first = s->issuePermit(&change_).value();
  for (int i = 0; i < 1024; ++i) (void)s->issuePermit(&change_);
  EXPECT_EQ(s->spendPermit(first, Bytes(32, 1), &change_).error().code, ErrorCode::kBadPermit);
  EXPECT_EQ(s->spendPermit(first + 2000, Bytes(32, 1), &change_).error().code, ErrorCode::kBadPermit);
  // Sessions alive fill the table's neighbourhood: refused, not forgotten.
  int full = 0;
  for (std::uint8_t i = 0; i < 255 && full == 0; ++i)
    for (std::uint8_t j = 0; j < 8; ++j) {
      auto r = s->advanceCounter(Bytes{i, j}, 1, now_, now_ + 900, now_, &change_);
      if (!r.ok()) {
        EXPECT_EQ(r.error().code, ErrorCode::kStateFull);
        ++full;
        break;
      }
    }
  EXPECT_EQ(full, 1);
  now_ += 901;  // expired sessions free their slots
  EXPECT_TRUE(s->advanceCounter(Bytes{9, 9, 9}, 1, now_, now_ + 900, now_, &change_).ok());
}

// A new file knows nothing of before: logins signed and sessions opened
// before it was made are refused, not replayable.
TEST_F(SignerStateTest, NothingFromBeforeTheFileWasMadeIsAccepted) {
  auto s = open(smallLimits());
  const std::uint64_t made = s->createdAt();
  EXPECT_EQ(s->spendLoginNonce("+86138", Bytes(16, 1), made - 1, made, &change_).error().code,
            ErrorCode::kStaleTimestamp);
  EXPECT_TRUE(s->spendLoginNonce("+86138", Bytes(16, 1), made, made, &change_).ok());
  EXPECT_EQ(s->advanceCounter(Bytes(16, 2), 1, made - 1, made + 899, made, &change_).error().code,
            ErrorCode::kSessionExpired);
  EXPECT_TRUE(s->advanceCounter(Bytes(16, 2), 1, made, made + 900, made, &change_).ok());
}

TEST_F(SignerStateTest, AFileThatMustExistIsNotMadeAnew) {
  auto refused = SignerState::open(dir_.path() + "/signer.state", smallLimits(), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().detail.find("mpay-admin state new"), std::string::npos);
}

TEST_F(SignerStateTest, AFileForOtherCapacitiesOrInUseIsRefused) {
  auto s = open(smallLimits());
  auto again = SignerState::open(dir_.path() + "/signer.state", smallLimits());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().detail.find("in use by another signer"), std::string::npos);
  s.reset();
  SignerLimits bigger = smallLimits();
  bigger.sessions = 2048;
  auto other = SignerState::open(dir_.path() + "/signer.state", bigger);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().detail.find("other capacities"), std::string::npos);
}

TEST(SignerLimits, StrictAndTheShippedFileLoads) {
  EXPECT_TRUE(SignerLimits::load(test::sourceDir() + "/policy/signer.limits").ok());
  auto missing = SignerLimits::parse("password_threshold 5\n", "l");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().detail.find("missing"), std::string::npos);
  EXPECT_FALSE(SignerLimits::parse("frobnicate 5\n", "l").ok());
  EXPECT_FALSE(SignerLimits::parse("password_threshold 0\n", "l").ok());
  EXPECT_FALSE(SignerLimits::parse("password_threshold 5\npassword_threshold 5\n", "l").ok());
  EXPECT_FALSE(SignerLimits::parse("password_threshold five\n", "l").ok());
}

}  // namespace
}  // namespace mpay::signer
