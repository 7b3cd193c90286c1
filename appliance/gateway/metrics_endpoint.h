// The Prometheus scrape endpoint: GET /metrics on its own listener
// (gateway.metrics_listen:metrics_port), never on the phones' port, so a
// firewall can give it to the monitoring network alone. Nothing else is
// served there.
#pragma once
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "gateway/metrics.h"

namespace mpay::gateway {

class MetricsHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit MetricsHandlerFactory(GatewayMetrics& metrics) : metrics_(metrics) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  GatewayMetrics& metrics_;
};

}  // namespace mpay::gateway
