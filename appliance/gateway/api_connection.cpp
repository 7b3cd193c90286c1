#include "gateway/api_connection.h"

#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Timestamp.h>

#include "common/log.h"

namespace mpay::gateway {
namespace {

class ApiConnection : public Poco::Net::TCPServerConnection {
 public:
  ApiConnection(const Poco::Net::StreamSocket& socket, ApiContext& context, Poco::Net::HTTPServerParams::Ptr params)
      : TCPServerConnection(socket), c_(context), params_(std::move(params)) {}

  void run() override {
    std::string source;
    try {
      source = socket().peerAddress().host().toString();
    } catch (const Poco::Exception&) {
      return;  // gone before it was served
    }
    ConnectionGuard::Entry connection(c_.guard, socket().impl()->sockfd(), source);
    if (!connection.admitted()) {
      refuse(source);
      return;
    }
    Poco::Net::HTTPServerSession session(socket(), params_);
    while (session.hasMoreRequests()) {
      try {
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, params_);
        response.setDate(Poco::Timestamp());
        response.setVersion(request.getVersion());
        response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() && session.canKeepAlive());
        if (request.getExpectContinue()) response.sendContinue();
        serveRequest(c_, connection, request, response);
        session.setKeepAlive(params_->getKeepAlive() && response.getKeepAlive() && session.canKeepAlive());
        if (!response.getKeepAlive()) break;
      } catch (const Poco::Net::NoMessageException&) {
        break;  // closed, or idle past its deadline, between requests
      } catch (const Poco::Exception&) {
        // The headers did not parse, or did not come in time.
        answerAndClose(session, connection.timedOut() ? ApiCode::kRequestTimeout : ApiCode::kMalformedRequest);
        break;
      }
      connection.awaitRequest();
    }
  }

 private:
  void refuse(const std::string& source) {
    try {
      socket().setSendTimeout(Poco::Timespan(1, 0));
      socket().sendBytes(overloadedAnswer().data(), static_cast<int>(overloadedAnswer().size()));
    } catch (const Poco::Exception&) {
    }
    c_.metrics.connectionRefused();
    log::warn("event=connection_refused reason=max_connections_per_source source=" + source);
  }

  void answerAndClose(Poco::Net::HTTPServerSession& session, ApiCode code) {
    try {
      Poco::Net::HTTPServerResponseImpl response(session);
      response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
      response.setKeepAlive(false);
      sendApiError(response, apiError(code, ""));
    } catch (const Poco::Exception&) {
    }
    c_.metrics.request("-", std::string(apiErrorInfo(code).name), 0);
    log::info(std::string("event=request_refused result=") + std::string(apiErrorInfo(code).name));
  }

  ApiContext& c_;
  Poco::Net::HTTPServerParams::Ptr params_;
};

}  // namespace

Poco::Net::TCPServerConnection* ApiConnectionFactory::createConnection(const Poco::Net::StreamSocket& socket) {
  return new ApiConnection(socket, context_, params_);
}

}  // namespace mpay::gateway
