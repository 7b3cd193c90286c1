#include "gateway/http_client.h"

#include <Poco/Net/HTTPSClientSession.h>

namespace mpay::gateway {

std::unique_ptr<Poco::Net::HTTPClientSession> clientSession(const Poco::URI& uri, int timeout_ms) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (uri.getScheme() == "https") session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort());
  else session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  session->setTimeout(Poco::Timespan(static_cast<long>(timeout_ms) * 1000));
  return session;
}

}  // namespace mpay::gateway
