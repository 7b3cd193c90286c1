#include "client/api_client.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <memory>
#include <sstream>

namespace mpay::client {

ApiClient::ApiClient(std::string base_url, std::string ca_file)
    : base_(std::move(base_url)), ca_file_(std::move(ca_file)) {}
ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient::~ApiClient() = default;

Poco::Net::HTTPClientSession& ApiClient::connection() {
  if (!session_) {
    Poco::URI uri(base_);
    if (uri.getScheme() == "https") {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file_,
                                                               Poco::Net::Context::VERIFY_STRICT, 9, ca_file_.empty());
      session_ = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else {
      session_ = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session_->setTimeout(Poco::Timespan(30, 0));
    session_->setKeepAlive(true);
    // Idle longer than this, the connection is opened again before the next
    // request: the gateway closes idle ones after gateway.request_timeout_ms.
    session_->setKeepAliveTimeout(Poco::Timespan(0, 500'000));
  }
  return *session_;
}

Result<Json, ApiFailure> ApiClient::get(const std::string& path) { return exchange("GET", path, nullptr); }

Result<Json, ApiFailure> ApiClient::post(const std::string& path, const Poco::JSON::Object& body) {
  std::ostringstream text;
  body.stringify(text);
  const std::string s = text.str();
  return exchange("POST", path, &s);
}

Result<Json, ApiFailure> ApiClient::exchange(const std::string& method, const std::string& path, const std::string* body) {
  try {
    Poco::Net::HTTPClientSession& session = connection();
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    if (body) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body->size()));
      session.sendRequest(request) << *body;
    } else {
      session.sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    std::string answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
    if (!response.getKeepAlive()) session_.reset();
    Poco::JSON::Parser parser;
    Json json = parser.parse(answer).extract<Json>();
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
      return ApiFailure{response.getStatus(), json->optValue<std::string>("error", "unknown"),
                        json->optValue<std::string>("message", "")};
    return json;
  } catch (const Poco::Exception& e) {
    session_.reset();
    return ApiFailure{0, "no_answer", e.displayText()};
  }
}

}  // namespace mpay::client
