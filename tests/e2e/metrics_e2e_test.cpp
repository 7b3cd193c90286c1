// The gateway's Prometheus endpoint, scraped from its own listener while a
// phone walks through the flows.
#include <gtest/gtest.h>

#include <string>

#include "support/running_appliance.h"

namespace mpay {
namespace {

bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsE2E, TheScrapeCountsEachRouteByResult) {
  test::RunningAppliance app;
  app.enroll("phone", "+8613800138040");
  ASSERT_EQ(app.client("phone", "login --password 'correct horse 42'").exit_code, 0);
  auto paid = app.client("phone", "pay --password 'correct horse 42' --pin 246810 --order M-1 --amount 1.00 --currency CNY");
  ASSERT_EQ(paid.exit_code, 0) << paid.output;
  EXPECT_EQ(app.get("/v1/login").status, 405);
  EXPECT_EQ(app.get("/v1/nothing-here").status, 404);

  const auto scrape = app.metrics();
  ASSERT_EQ(scrape.status, 200);
  const std::string& text = scrape.body;
  for (const char* route : {"/v1/register", "/v1/activate", "/v1/login", "/v1/pay"})
    EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"ok\",route=\"" + std::string(route) + "\"} 1"))
        << route << "\n" << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"method_not_allowed\",route=\"/v1/login\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"not_found\",route=\"other\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_count{route=\"/v1/pay\"} 1")) << text;
  EXPECT_NE(text.find("\nmpay_signer_calls_total{result=\"ok\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("\nmpay_build_info{version=\""), std::string::npos) << text;
  EXPECT_EQ(text.find("8613800138040"), std::string::npos) << "no phone number in the metrics";
}

TEST(MetricsE2E, EachListenerServesOnlyItsOwnRoutes) {
  test::RunningAppliance app;
  EXPECT_EQ(app.get("/metrics").status, 404) << "the phones' port does not serve metrics";
  EXPECT_EQ(app.metrics("/v1/platform").status, 404) << "the metrics port does not serve the API";
  EXPECT_EQ(app.metrics("/healthz").status, 404);
  EXPECT_EQ(app.metrics("/metrics").status, 200);
}

}  // namespace
}  // namespace mpay
