// The management listener (gateway.metrics_listen:metrics_port), never the
// phones' port, so a firewall can give it to the monitoring network alone:
// GET /metrics (Prometheus) and, when a console token is configured, GET
// /console (console.h). Nothing else is served there.
#pragma once
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "gateway/console.h"
#include "gateway/metrics.h"

namespace mpay::gateway {

class MetricsHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  // `console` null: /console answers 404.
  MetricsHandlerFactory(GatewayMetrics& metrics, Console* console) : metrics_(metrics), console_(console) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  GatewayMetrics& metrics_;
  Console* console_;
};

}  // namespace mpay::gateway
