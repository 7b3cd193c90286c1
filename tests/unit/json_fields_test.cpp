// The gateway's strict reading of request bodies: binary fields only in
// canonical base64url, integers only where every JSON parser holds them.
#include <gtest/gtest.h>

#include "gateway/json_fields.h"

namespace mpay::gateway {
namespace {

ApiResult<Bytes> bytesOf(const std::string& value) {
  auto fields = JsonFields::parse(R"({"b":")" + value + R"("})", {"b"});
  if (!fields) return std::move(fields).error();
  return fields->bytes("b", 64);
}

ApiResult<std::uint64_t> integerOf(const std::string& value) {
  auto fields = JsonFields::parse(R"({"n":)" + value + "}", {"n"});
  if (!fields) return std::move(fields).error();
  return fields->u64("n");
}

TEST(JsonFields, BinaryFieldsAreTakenOnlyInTheirCanonicalForm) {
  for (const char* good : {"", "AA", "AAE", "AAEC", "-_8", "AAECAwQFBgcICQoLDA0ODw"}) {
    auto b = bytesOf(good);
    ASSERT_TRUE(b.ok()) << good;
    EXPECT_EQ(base64url(b.value()), good);
  }
  // One character (no whole byte), trailing bits set, padding, the standard alphabet, spaces.
  for (const char* bad : {"C", "A", "CC", "AB", "AAF", "AA==", "AA=", "+/8", "AA AA", "AA\\nAA", "AAEC="}) {
    auto b = bytesOf(bad);
    EXPECT_FALSE(b.ok()) << bad;
    if (!b.ok()) {
      EXPECT_EQ(b.error().code, ApiCode::kBadField) << bad;
    }
  }
}

TEST(JsonFields, IntegersStayWithinWhatEveryParserHoldsExactly) {
  EXPECT_EQ(integerOf("0").value(), 0u);
  EXPECT_EQ(integerOf("9007199254740991").value(), 9007199254740991u);  // 2^53 - 1
  for (const char* bad : {"9007199254740992", "9223372036854775808", "18446744073709551615", "18446744073709551617",
                          "340282366920938463463374607431768211457", "-1", "1.5", "1e3", "true", "\"12\""}) {
    auto n = integerOf(bad);
    EXPECT_FALSE(n.ok()) << bad << " read as " << (n.ok() ? n.value() : 0);
    if (!n.ok()) {
      EXPECT_EQ(n.error().code, ApiCode::kBadField) << bad;
    }
  }
  // Digits inside strings are text, not numbers.
  EXPECT_TRUE(JsonFields::parse(R"({"s":"123456789012345678901234567890"})", {"s"}).ok());
}

}  // namespace
}  // namespace mpay::gateway
