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

std::optional<std::string> readAtMost(std::istream& in, std::size_t limit) {
  std::string body(limit + 1, '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > limit) return std::nullopt;
  body.resize(got);
  return body;
}

std::unique_ptr<Poco::Net::HTTPClientSession> ClientSessionPool::take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return session;
    }
  }
  auto session = clientSession(uri_, timeout_ms_);
  session->setKeepAlive(true);
  session->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(idle_ms_) * 1000));
  return session;
}

void ClientSessionPool::giveBack(std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(session));
}

}  // namespace mpay::gateway
