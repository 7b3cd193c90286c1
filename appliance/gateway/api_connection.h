// The phones' HTTP connections, one cheap thread each (up to
// gateway.max_connections): Poco's HTTP session, request and response
// classes, driven by a loop of our own so that the connection guard's
// deadline covers the headers too, and a request cut at its deadline is
// answered 408 request_timeout (Poco's own loop answers a bare 400, or
// nothing). Requests are answered by serveRequest (gateway/http_api.h).
#pragma once
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include "gateway/http_api.h"

namespace mpay::gateway {

class ApiConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ApiConnectionFactory(Engine& engine, const GatewayConfig& config, GatewayMetrics& metrics, ConnectionGuard& guard,
                       Poco::Net::HTTPServerParams::Ptr params)
      : per_source_(config.rate_per_source), context_{engine, config, metrics, per_source_, guard},
        params_(std::move(params)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;

 private:
  RateLimiter per_source_;
  ApiContext context_;
  Poco::Net::HTTPServerParams::Ptr params_;
};

}  // namespace mpay::gateway
