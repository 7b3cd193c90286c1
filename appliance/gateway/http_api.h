// The communication adapter (patent ③): HTTP on Poco with the limits Poco
// itself lacks — a body cap checked for Content-Length and chunked bodies, a
// whole-request deadline and per-source caps (gateway/connection_guard.h),
// per-source rate limits — and the routing to the engine. Every answer is JSON; every error is
// {"error": code, "message": text}; no exception escapes a handler.
#pragma once
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/TCPServer.h>

#include <initializer_list>
#include <span>

#include "gateway/connection_guard.h"
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
// answers 503 overloaded and closes instead, once the server has
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

// The bare 503 overloaded answer, for a connection refused before any request was read.
const std::string& overloadedAnswer();

// Everything a request needs besides itself.
struct ApiContext {
  Engine& engine;
  const GatewayConfig& config;
  GatewayMetrics& metrics;
  RateLimiter& per_source;
  ConnectionGuard& guard;
};

// Answers one request whose headers are in: reads its body within the
// connection's deadline, then works on it under one of the guard's worker
// permits. No exception escapes.
void serveRequest(ApiContext& context, ConnectionGuard::Entry& connection, Poco::Net::HTTPServerRequest& request,
                  Poco::Net::HTTPServerResponse& response);

}  // namespace mpay::gateway
