// The gateway's edge: limits and malformed input.
#include <gtest/gtest.h>

#include "support/running_appliance.h"

namespace mpay {
namespace {

class HttpLimitsE2E : public ::testing::Test {
 protected:
  test::RunningAppliance app_{"gateway.max_body = 2048\ngateway.request_timeout_ms = 1000"};
  std::string error(const test::HttpAnswer& a) { return test::jsonField(a.body, "error"); }
};

TEST_F(HttpLimitsE2E, HealthAndPlatform) {
  auto health = app_.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(test::jsonField(health.body, "hsm"), "healthy");
  auto platform = app_.get("/v1/platform");
  EXPECT_EQ(test::jsonField(platform.body, "suite"), "mpay-v1");
}

TEST_F(HttpLimitsE2E, MalformedBodiesGetTheirCodes) {
  EXPECT_EQ(error(app_.post("/v1/login", "{not json")), "malformed_json");
  EXPECT_EQ(error(app_.post("/v1/login", "[1,2]")), "malformed_json");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"AA","c2":"AA","x":1})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"AA=="})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"!!","c2":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":12,"c1":"AA","c2":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/register", R"({"sealed_info1":"AAAA"})")), "decrypt_failed");
  EXPECT_EQ(error(app_.post("/v1/pay", R"({"session_id":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.get("/v1/nothing")), "not_found");
  EXPECT_EQ(error(app_.get("/v1/login")), "method_not_allowed");
  EXPECT_EQ(app_.get("/healthz").status, 200) << "still serving";
}

TEST_F(HttpLimitsE2E, OversizedBodiesAreRefusedBeforeTheyAreRead) {
  auto big = app_.post("/v1/register", "{\"sealed_info1\":\"" + std::string(5000, 'A') + "\"}");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(error(big), "payload_too_large");
  // Chunked: no length up front, refused once the cap is passed.
  std::string chunked = "POST /v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 6; ++i) chunked += "400\r\n" + std::string(1024, 'A') + "\r\n";
  chunked += "0\r\n\r\n";
  auto answer = app_.raw(chunked);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer.substr(0, 200);
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos);
}

TEST_F(HttpLimitsE2E, TruncatedBodiesDoNotHangOrCrashTheGateway) {
  // Content-Length promises more than is sent; the gateway answers within its deadline.
  auto answer = app_.raw("POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"phone\":");
  EXPECT_TRUE(answer.empty() || answer.find("HTTP/1.1 4") != std::string::npos) << answer.substr(0, 200);
  EXPECT_EQ(app_.get("/healthz").status, 200);
}

TEST(HttpRateLimitE2E, PerSourceLimitAnswers429) {
  test::RunningAppliance app("gateway.rate_per_source = 5");
  int limited = 0;
  for (int i = 0; i < 8; ++i)
    if (app.get("/v1/platform").status == 429) ++limited;
  EXPECT_GE(limited, 2);
}

}  // namespace
}  // namespace mpay
