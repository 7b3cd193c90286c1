#include <gtest/gtest.h>

#include <string>

#include "gateway/metrics.h"

namespace mpay::gateway {
namespace {

bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(GatewayMetrics, CountsRequestsByRouteAndResult) {
  GatewayMetrics metrics("9.9.9");
  metrics.request("/v1/login", "ok", 0.002);
  metrics.request("/v1/login", "ok", 0.004);
  metrics.request("/v1/login", "wrong_password", 0.003);
  metrics.request("/v1/pay", "acquirer_timeout", 6.0);
  const std::string text = metrics.render();
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"ok\",route=\"/v1/login\"} 2")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"wrong_password\",route=\"/v1/login\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"acquirer_timeout\",route=\"/v1/pay\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_count{route=\"/v1/login\"} 3")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_bucket{route=\"/v1/login\",le=\"0.0025\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_bucket{route=\"/v1/login\",le=\"0.005\"} 3")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_bucket{route=\"/v1/pay\",le=\"5\"} 0")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_http_request_duration_seconds_bucket{route=\"/v1/pay\",le=\"10\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_build_info{version=\"9.9.9\"} 1")) << text;
}

TEST(GatewayMetrics, PathsOutsideTheApiShareOneLabel) {
  GatewayMetrics metrics("0");
  // A scanner's paths, a query string, a phone number in a path: none becomes a label.
  for (const char* path : {"/admin", "/v1/login?x=1", "/v1/pay/+8613800138000", "/.env", "/healthz/"})
    metrics.request(path, "not_found", 0.0001);
  const std::string text = metrics.render();
  EXPECT_TRUE(hasLine(text, "mpay_http_requests_total{result=\"not_found\",route=\"other\"} 5")) << text;
  EXPECT_EQ(text.find("8613800138000"), std::string::npos);
  EXPECT_EQ(text.find("/admin"), std::string::npos);
}

TEST(GatewayMetrics, CountsRefusedConnectionsAndSignerCalls) {
  GatewayMetrics metrics("0");
  EXPECT_TRUE(hasLine(metrics.render(), "mpay_http_connections_refused_total 0"));
  metrics.connectionRefused();
  metrics.signerCall("ok", 0.0004);
  metrics.signerCall("hsm_unavailable", 0.0001);
  const std::string text = metrics.render();
  EXPECT_TRUE(hasLine(text, "mpay_http_connections_refused_total 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_signer_calls_total{result=\"ok\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_signer_calls_total{result=\"hsm_unavailable\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "mpay_signer_call_duration_seconds_count 2")) << text;
  EXPECT_TRUE(hasLine(text, "# TYPE mpay_signer_call_duration_seconds histogram")) << text;
}

}  // namespace
}  // namespace mpay::gateway
