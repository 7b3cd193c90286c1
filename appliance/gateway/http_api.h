// The communication adapter (patent ③): Poco's HTTPServer with the limits
// Poco itself lacks — a body cap checked for Content-Length and chunked
// bodies, a whole-request deadline, per-source rate limits — and the
// routing to the engine. Every answer is JSON; every error is
// {"error": code, "message": text}; no exception escapes a handler.
#pragma once
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/TCPServer.h>

#include <initializer_list>
#include <span>

#include "gateway/engine.h"
#include "gateway/metrics.h"

namespace mpay::gateway {

// The POST endpoints: each body's required and optional keys, and the
// engine step that reads it (the JSON fuzz target reads the same table).
struct JsonRoute {
  const char* path;
  ApiResult<JsonPtr> (Engine::*call)(const JsonFields&);
  std::initializer_list<const char*> required, optional;
};
std::span<const JsonRoute> jsonRoutes();

// {"error": code, "message": text} with the code's HTTP status.
void sendApiError(Poco::Net::HTTPServerResponse& response, const ApiError& e);

// Poco drops connections silently when its queue is full; this filter
// answers 503 service_unavailable and closes instead, once the server has
// max_connections open (being served or queued).
class ConnectionLimiter : public Poco::Net::TCPServerConnectionFilter {
 public:
  ConnectionLimiter(int max_connections, GatewayMetrics& metrics) : max_(max_connections), metrics_(metrics) {}
  void attach(const Poco::Net::TCPServer* server) { server_ = server; }
  bool accept(const Poco::Net::StreamSocket& socket) override;

 private:
  int max_;
  GatewayMetrics& metrics_;
  const Poco::Net::TCPServer* server_ = nullptr;
};

class ApiHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  ApiHandlerFactory(Engine& engine, const GatewayConfig& config, GatewayMetrics& metrics)
      : engine_(engine), config_(config), metrics_(metrics), per_source_(config.rate_per_source) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  Engine& engine_;
  const GatewayConfig& config_;
  GatewayMetrics& metrics_;
  RateLimiter per_source_;
};

}  // namespace mpay::gateway
