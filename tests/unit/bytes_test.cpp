#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/secret.h"

namespace mpay {
namespace {

TEST(ByteCodec, RoundTripsIntegersAndFields) {
  ByteWriter w;
  w.u8(7).u16(0x1234).u32(0xdeadbeef).u64(0x0102030405060708ULL).field(std::string_view("abc"));
  ByteReader r(w.bytes());
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint64_t d = 0;
  std::string text;
  ASSERT_TRUE(r.u8(&a) && r.u16(&b) && r.u32(&c) && r.u64(&d) && r.text(&text, 3));
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 0x1234);
  EXPECT_EQ(c, 0xdeadbeefu);
  EXPECT_EQ(d, 0x0102030405060708ULL);
  EXPECT_EQ(text, "abc");
}

TEST(ByteCodec, RefusesTruncatedAndOverlongFieldsWithoutMoving) {
  ByteWriter w;
  w.field(std::string_view("abcdef"));
  Bytes bytes = w.take();
  ByteReader too_long(bytes);
  ByteView out;
  EXPECT_FALSE(too_long.field(&out, 5));  // above the caller's maximum
  EXPECT_EQ(too_long.remaining(), bytes.size());
  bytes.pop_back();
  ByteReader truncated(bytes);
  EXPECT_FALSE(truncated.field(&out, 100));
  EXPECT_EQ(truncated.remaining(), bytes.size());
  ByteReader fixed(w.bytes());
  EXPECT_FALSE(fixed.fixedField(&out, 6));  // w was taken: empty
}

TEST(ByteCodec, FixedFieldNeedsExactLength) {
  ByteWriter w;
  w.field(std::string_view("abcd"));
  ByteReader r(w.bytes());
  ByteView out;
  EXPECT_FALSE(r.fixedField(&out, 5));
  EXPECT_TRUE(r.fixedField(&out, 4));
}

TEST(ByteWriterDeathTest, AFieldTooLongForItsLengthStopsTheProcessInsteadOfMisframing) {
  ByteWriter fits;
  fits.field(ByteView(Bytes(0xffff, 7)));
  ByteReader r(fits.bytes());
  ByteView out;
  EXPECT_TRUE(r.field(&out, 0xffff));
  EXPECT_EQ(out.size(), 0xffffu);
  // 65536 + 2 bytes would have gone out as a 2-byte field followed by 65536 bytes read as whatever comes next.
  EXPECT_DEATH(ByteWriter().field(ByteView(Bytes(0x10002, 7))), "over 65535 bytes");
}

TEST(Secret, MovesAndComparesInConstantTime) {
  Secret a = Secret::copyOf(std::string_view("pin-123456"));
  Secret b = std::move(a);
  EXPECT_EQ(b.exposeSecretText(), "pin-123456");
  EXPECT_EQ(a.size(), 0u);  // NOLINT: moved-from is empty by contract
  EXPECT_TRUE(constantTimeEqual(asBytes("abc"), asBytes("abc")));
  EXPECT_FALSE(constantTimeEqual(asBytes("abc"), asBytes("abd")));
  EXPECT_FALSE(constantTimeEqual(asBytes("abc"), asBytes("abcd")));
}

}  // namespace
}  // namespace mpay
