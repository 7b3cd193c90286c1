#include <gtest/gtest.h>

#include "suite/messages.h"

namespace mpay::suite {
namespace {

Info1 sampleInfo1() {
  return Info1{"+8613800138000", "356938035643809", "89860012345678901234", Secret::copyOf(std::string_view("pass word 1")),
               Secret::copyOf(std::string_view("123456")), "张三", "11010119900307001X"};
}

TEST(Messages, Info1RoundTripsAndIsValidated) {
  Secret encoded = encodeInfo1(sampleInfo1());
  auto parsed = parseInfo1(encoded);
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  EXPECT_EQ(parsed->phone, "+8613800138000");
  EXPECT_EQ(parsed->name, "张三");
  EXPECT_EQ(parsed->password.exposeSecretText(), "pass word 1");
  Info1 bad = sampleInfo1();
  bad.pin = Secret::copyOf(std::string_view("12345a"));
  auto refused = parseInfo1(encodeInfo1(bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kBadField);
}

TEST(Messages, Info1WithTrailingBytesIsRefused) {
  Secret encoded = encodeInfo1(sampleInfo1());
  Bytes longer(encoded.exposeSecret().begin(), encoded.exposeSecret().end());
  longer.push_back(0);
  EXPECT_EQ(parseInfo1(Secret::copyOf(longer)).error().code, ErrorCode::kBadFrame);
}

TEST(Messages, FieldRules) {
  EXPECT_TRUE(validPhone("+8613800138000"));
  EXPECT_FALSE(validPhone("8613800138000"));
  EXPECT_FALSE(validPhone("+86 138"));
  EXPECT_TRUE(validSim("89860012345678901234"));
  EXPECT_FALSE(validSim("8986001234"));
  EXPECT_TRUE(validPassword("correct horse"));
  EXPECT_FALSE(validPassword("short"));
  EXPECT_FALSE(validPassword("tab\there!!"));
  EXPECT_TRUE(validName("Zhang San"));
  EXPECT_FALSE(validName(std::string("\xc3\x28", 2)));  // invalid UTF-8
  EXPECT_FALSE(validName("line\nbreak"));
  EXPECT_TRUE(validOrderNo("ORDER-2026_11"));
  EXPECT_FALSE(validOrderNo("order 1"));
  EXPECT_TRUE(validCurrency("CNY"));
  EXPECT_FALSE(validCurrency("cny"));
}

TEST(Messages, Info3IsColonJoined) {
  Secret p = info3Password("+861", "3569", "8986", Secret::copyOf(std::string_view("pw:with:colons")));
  EXPECT_EQ(p.exposeSecretText(), "+861:3569:8986:pw:with:colons");
}

TEST(Messages, RegistrationFileMacNeedsBothCodes) {
  Bytes p12 = {1, 2, 3, 4, 5};
  auto file = buildRegistrationFile(p12, "123456789012", "87654321");
  ASSERT_TRUE(file.ok());
  auto opened = openRegistrationFile(file.value(), "123456789012", "87654321");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened.value(), p12);
  EXPECT_EQ(openRegistrationFile(file.value(), "123456789012", "87654320").error().code, ErrorCode::kMismatch);
  Bytes tampered = file.value();
  tampered[3] ^= 1;
  EXPECT_FALSE(openRegistrationFile(tampered, "123456789012", "87654321").ok());
}

TEST(Messages, ReceiptRoundTrips) {
  Receipt r{"T-1", PaymentResult::kApproved, "O-1", "+8613800138000", 1234, "CNY", 1790000000};
  auto parsed = parseReceiptBytes(receiptBytes(r));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->amount_minor, 1234u);
  EXPECT_EQ(parsed->transaction_no, "T-1");
}

}  // namespace
}  // namespace mpay::suite
