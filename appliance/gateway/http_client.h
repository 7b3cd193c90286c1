// An HTTP or HTTPS client session for a URL, with a timeout: the one way the
// gateway opens outbound connections (acquirer, SMS webhook).
#pragma once
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <mutex>
#include <vector>

#include "common/result.h"

namespace mpay::gateway {

// The TLS of every outbound https connection: the peer's chain verified
// against `ca_file` (PEM; empty: the system's trust store, /etc/ssl/certs)
// and its name against the URL's host, TLS 1.2 or later; a certificate that
// fails is refused, never asked about. Call once at start, before the sandbox
// (the CA file is read now) and before any thread; without it, the first
// https connection uses the system's trust store.
Status configureOutboundTls(const std::string& ca_file);

std::unique_ptr<Poco::Net::HTTPClientSession> clientSession(const Poco::URI& uri, int timeout_ms);

// An answer body of at most `limit` bytes; nothing when it is longer (the
// peer is broken or hostile: the connection must not be used again).
std::optional<std::string> readAtMost(std::istream& in, std::size_t limit);

// Connections to one peer kept alive between requests, shared by the
// gateway's threads: a request takes an idle one (or opens one) and gives it
// back only after a whole exchange; any error drops it. A connection idle
// longer than `idle_ms` is opened again before use, well before the peer's
// own keep-alive timeout could close it under a request.
class ClientSessionPool {
 public:
  ClientSessionPool(Poco::URI uri, int timeout_ms, int idle_ms = 1000)
      : uri_(std::move(uri)), timeout_ms_(timeout_ms), idle_ms_(idle_ms) {}
  std::unique_ptr<Poco::Net::HTTPClientSession> take();
  void giveBack(std::unique_ptr<Poco::Net::HTTPClientSession> session);

 private:
  static constexpr std::size_t kMaxIdle = 64;
  const Poco::URI uri_;
  const int timeout_ms_, idle_ms_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle_;
};

}  // namespace mpay::gateway
