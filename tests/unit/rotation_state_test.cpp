// The rotation state object's text: strict in both directions, and the
// states no rotation step may produce refused.
#include <gtest/gtest.h>

#include "hsm/rotation.h"

namespace mpay::hsm {
namespace {

TEST(RotationState, RoundTripsThroughItsText) {
  RotationState s;
  s.version = 7;
  s.service = {3, 0, 0, 2, 1765000000};
  s.receipt = {1, 2, 1764000000, 0, 0};
  s.verifier = {2, 0, 0, 1, 0};  // the previous verifier key stays until no verifier needs it
  s.kek = {1, 2, 1764000000, 0, 0};
  s.ca = {2, 0, 0, 1, 1764000005};  // the old CA may issue until every worker has switched
  const std::string text = formatRotationState(s);
  EXPECT_EQ(text,
            "mpay-rotation 1\nversion 7\nservice current=3 next=0 next_since=0 previous=2 previous_until=1765000000\n"
            "receipt current=1 next=2 next_since=1764000000 previous=0 previous_until=0\n"
            "verifier current=2 next=0 next_since=0 previous=1 previous_until=0\n"
            "kek current=1 next=2 next_since=1764000000 previous=0 previous_until=0\n"
            "ca current=2 next=0 next_since=0 previous=1 previous_until=1764000005\n");
  auto back = parseRotationState(text);
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_EQ(back.value(), s);
  EXPECT_EQ(s.service.onToken(), (std::vector<std::uint32_t>{3, 2}));
  EXPECT_EQ(s.receipt.onToken(), (std::vector<std::uint32_t>{1, 2}));
}

TEST(RotationState, RefusesAnythingElse) {
  const std::string good = "service current=2 next=3 next_since=100 previous=0 previous_until=0\n"
                           "receipt current=1 next=0 next_since=0 previous=0 previous_until=0\n";
  const std::string receipt = "receipt current=1 next=0 next_since=0 previous=0 previous_until=0\n";
  for (const std::string& text : std::vector<std::string>{
           "mpay-rotation 2\nversion 1\n" + good,                      // another format
           "version 1\n" + good,                                        // no header
           "mpay-rotation 1\nversion 0\n" + good,                       // version 0 means "none"
           "mpay-rotation 1\nversion 01\n" + good,                      // leading zero
           "mpay-rotation 1\nversion 1 2\n" + good,                     // extra word
           "mpay-rotation 1\n" + good,                                  // no version
           "mpay-rotation 1\nversion 1\n",                              // no service line
           "mpay-rotation 1\nversion 1\n" + good + good,                // twice
           "mpay-rotation 1\nversion 1\n" + receipt,                    // no service line
           "mpay-rotation 1\nversion 1\n" + receipt + good,             // out of order
           "mpay-rotation 1\nversion 1\nservice current=2 next=0 next_since=0 previous=0 previous_until=0\n",  // no receipt line
           "mpay-rotation 1\nversion 1\nservice current=2 next=0 next_since=0 previous=0 previous_until=0\n"
           "receipt current=2 next=2 next_since=5 previous=0 previous_until=0\n",  // receipt next not newer
           "mpay-rotation 1\nversion 1\nservice current=2 next=3 next_since=100 previous=0\n" + receipt,  // a value missing
           "mpay-rotation 1\nversion 1\nservice current=2 next=3 next_since=100 previous=0 previous_until=0 x=1\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=2 current=2 next=3 next_since=100 previous=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=-2 next=3 next_since=100 previous=0 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=4294967296 next=0 next_since=0 previous=0 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=0 next=0 next_since=0 previous=0 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=2 next=2 next_since=100 previous=0 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=2 next=3 next_since=0 previous=0 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=2 next=0 next_since=0 previous=2 previous_until=9\n" + receipt,
           "mpay-rotation 1\nversion 1\nservice current=2 next=0 next_since=0 previous=1 previous_until=0\n" + receipt,
           "mpay-rotation 1\nversion 1\n\n" + good,                    // an empty line
           "mpay-rotation 1\nversion 1\n" + good +                    // a verifier's previous has no end date
               "verifier current=2 next=0 next_since=0 previous=1 previous_until=9\n",
           "mpay-rotation 1\nversion 1\n" + good +
               "verifier current=2 next=0 next_since=0 previous=0 previous_until=0\n" +
               "verifier current=2 next=0 next_since=0 previous=0 previous_until=0\n",  // twice
       }) {
    EXPECT_FALSE(parseRotationState(text).ok()) << text;
  }
  // A state written before the verifier key rotated has no verifier line.
  auto older = parseRotationState("mpay-rotation 1\nversion 1\n" + good);
  ASSERT_TRUE(older.ok()) << older.error().detail;
  EXPECT_EQ(older->verifier, KeyGenerations{});
  EXPECT_EQ(older->kek, KeyGenerations{});
  EXPECT_EQ(older->ca, KeyGenerations{});
  // The CA's previous generation has an end, as the receipt key's.
  EXPECT_FALSE(parseRotationState("mpay-rotation 1\nversion 1\n" + good +
                                  "verifier current=1 next=0 next_since=0 previous=0 previous_until=0\n"
                                  "kek current=1 next=0 next_since=0 previous=0 previous_until=0\n"
                                  "ca current=2 next=0 next_since=0 previous=1 previous_until=0\n")
                   .ok());
  EXPECT_FALSE(parseRotationState("mpay-rotation 1\nversion 1\n" + good +
                                  "kek current=2 next=0 next_since=0 previous=1 previous_until=0\n"
                                  "verifier current=1 next=0 next_since=0 previous=0 previous_until=0\n")
                   .ok())
      << "out of order";
}

TEST(RotationState, GenerationLabels) {
  EXPECT_EQ(generationLabel("mpay-service", 1), "mpay-service");
  EXPECT_EQ(generationLabel("mpay-service", 2), "mpay-service.2");
  EXPECT_EQ(generationLabel("mpay-service", 12), "mpay-service.12");
}

}  // namespace
}  // namespace mpay::hsm
