#include "gateway/metrics_endpoint.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <exception>

#include "common/log.h"
#include "gateway/http_api.h"

namespace mpay::gateway {
namespace {

class MetricsHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit MetricsHandler(GatewayMetrics& metrics) : metrics_(metrics) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    try {
      if (request.getURI() != "/metrics") {
        sendApiError(response, {ApiCode::kNotFound, "only /metrics is served here"});
        return;
      }
      if (request.getMethod() != "GET") {
        sendApiError(response, {ApiCode::kMethodNotAllowed, ""});
        return;
      }
      const std::string body = metrics_.render();
      response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("text/plain; version=0.0.4; charset=utf-8");
      response.setContentLength(static_cast<std::streamsize>(body.size()));
      response.set("Cache-Control", "no-store");
      response.send() << body;
    } catch (const std::exception& e) {
      log::warn(std::string("event=metrics_failed what=\"") + e.what() + "\"");
    }
  }

 private:
  GatewayMetrics& metrics_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* MetricsHandlerFactory::createRequestHandler(const Poco::Net::HTTPServerRequest&) {
  return new MetricsHandler(metrics_);
}

}  // namespace mpay::gateway
