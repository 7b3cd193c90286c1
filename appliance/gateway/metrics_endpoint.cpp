#include "gateway/metrics_endpoint.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <exception>

#include "common/log.h"
#include "gateway/http_api.h"

namespace mpay::gateway {
namespace {

void sendPage(Poco::Net::HTTPServerResponse& response, const std::string& body) {
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("text/html; charset=utf-8");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.set("Cache-Control", "no-store");
  // Nothing but its own inline style: no script, no frame, no other origin.
  response.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.send() << body;
}

class MetricsHandler : public Poco::Net::HTTPRequestHandler {
 public:
  MetricsHandler(GatewayMetrics& metrics, Console* console) : metrics_(metrics), console_(console) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    try {
      if (request.getURI() == "/console") {
        serveConsole(request, response);
        return;
      }
      if (request.getURI() != "/metrics") {
        sendApiError(response, {ApiCode::kNotFound, "only /metrics and /console are served here"});
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
  void serveConsole(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    if (!console_) {
      sendApiError(response, {ApiCode::kNotFound, "the console is off: gateway.console_token_file is not set"});
      return;
    }
    if (request.getMethod() != "GET") {
      sendApiError(response, {ApiCode::kMethodNotAllowed, ""});
      return;
    }
    // A browser says where a request comes from: another site's page (an
    // <img> pointing here, say) would ride on the operator's cached
    // credentials. Admitted: no such header (curl), the page itself, and a
    // top-level navigation (typed, bookmarked, or a link from a dashboard).
    const std::string fetch_site = request.get("Sec-Fetch-Site", "none");
    const bool navigation = request.get("Sec-Fetch-Mode", "") == "navigate" &&
                            request.get("Sec-Fetch-Dest", "") == "document";
    if (fetch_site != "none" && fetch_site != "same-origin" && !navigation) {
      console_->refused(request.clientAddress().host().toString());
      sendApiError(response, {ApiCode::kUnauthorized, "the console is not served to another site's page"});
      return;
    }
    if (!console_->admits(request)) {
      console_->refused(request.clientAddress().host().toString());
      response.set("WWW-Authenticate", "Basic realm=\"mpay console\", charset=\"UTF-8\"");
      sendApiError(response, {ApiCode::kUnauthorized, "the console needs the token of gateway.console_token_file"});
      return;
    }
    auto page = console_->page();
    if (!page) {
      sendApiError(response, {ApiCode::kOverloaded, "a console page has been in the making for a while (the signer "
                                                    "or the database is slow); retry"});
      return;
    }
    sendPage(response, *page);
  }

  GatewayMetrics& metrics_;
  Console* console_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* MetricsHandlerFactory::createRequestHandler(const Poco::Net::HTTPServerRequest&) {
  return new MetricsHandler(metrics_, console_);
}

}  // namespace mpay::gateway
