#include <gtest/gtest.h>

#include "common/signer_protocol.h"

namespace mpay::wire {
namespace {

TEST(SignerProtocol, MessagesRoundTrip) {
  OpenLoginRequest req{Bytes(300, 1), Bytes(16, 2), Bytes(32, 3), Bytes(100, 4), Bytes(120, 5), 0};
  auto parsed = parseMessage<OpenLoginRequest>(encodeMessage(req));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->c2, req.c2);
  EXPECT_EQ(parsed->salt, req.salt);
}

TEST(SignerProtocol, TrailingBytesWrongFixedLengthsAndTruncationAreRefused) {
  OpenLoginRequest req{Bytes(300, 1), Bytes(16, 2), Bytes(32, 3), Bytes(100, 4), Bytes(120, 5), 0};
  Bytes encoded = encodeMessage(req);
  Bytes longer = encoded;
  longer.push_back(0);
  EXPECT_EQ(parseMessage<OpenLoginRequest>(longer).error().code, ErrorCode::kBadFrame);
  Bytes shorter(encoded.begin(), encoded.end() - 1);
  EXPECT_FALSE(parseMessage<OpenLoginRequest>(shorter).ok());
  req.salt = Bytes(15, 2);
  EXPECT_FALSE(parseMessage<OpenLoginRequest>(encodeMessage(req)).ok());
  req.salt = Bytes(16, 2);
  req.certificate = Bytes(kMaxCertificate + 1, 1);
  EXPECT_FALSE(parseMessage<OpenLoginRequest>(encodeMessage(req)).ok());
}

TEST(SignerProtocol, FramesCarryLengthVersionOpAndId) {
  Bytes frame = encodeRequest(OpId::kOpenLogin, 0x01020304, asBytes("xy"));
  ASSERT_EQ(frame.size(), 4 + kHeaderLen + 2);
  EXPECT_EQ(frame[3], kHeaderLen + 2);
  RequestHeader header;
  ByteView payload;
  ASSERT_TRUE(parseRequestHeader(ByteView(frame).subspan(4), &header, &payload));
  EXPECT_EQ(header.version, kVersion);
  EXPECT_EQ(header.op, static_cast<std::uint16_t>(OpId::kOpenLogin));
  EXPECT_EQ(header.request_id, 0x01020304u);
  EXPECT_EQ(asText(payload), "xy");
  EXPECT_FALSE(parseRequestHeader(ByteView(frame).subspan(4, 6), &header, &payload));
}

}  // namespace
}  // namespace mpay::wire
