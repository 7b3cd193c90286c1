// An HTTP or HTTPS client session for a URL, with a timeout: the one way the
// gateway opens outbound connections (acquirer, SMS webhook).
#pragma once
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <memory>

namespace mpay::gateway {

std::unique_ptr<Poco::Net::HTTPClientSession> clientSession(const Poco::URI& uri, int timeout_ms);

}  // namespace mpay::gateway
