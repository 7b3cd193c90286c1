#include "gateway/notifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/URI.h>

#include <fstream>
#include <mutex>

#include "common/secret.h"
#include "gateway/http_client.h"
#include "gateway/json_fields.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

std::string messageJson(const OutboxMessage& m) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", m.id);
  o.set("phone", m.phone);
  o.set("code", m.code);
  return toJson(o);
}

class OutboxFile : public Notifier {
 public:
  explicit OutboxFile(std::string path) : path_(std::move(path)) {}
  Status deliver(const OutboxMessage& m) override {
    const std::string line = messageJson(m) + "\n";
    std::lock_guard lock(mutex_);
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fail(ErrorCode::kIo, "cannot open outbox " + path_);
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
    ::close(fd);
    return ok ? Status{} : fail(ErrorCode::kIo, "cannot write outbox " + path_);
  }

 private:
  std::string path_;
  std::mutex mutex_;
};

class Webhook : public Notifier {
 public:
  Webhook(Poco::URI uri, Secret secret, int timeout_ms) : uri_(std::move(uri)), secret_(std::move(secret)), timeout_ms_(timeout_ms) {}
  Status deliver(const OutboxMessage& m) override {
    const std::string body = messageJson(m);
    try {
      auto session = clientSession(uri_, timeout_ms_);
      Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, uri_.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      req.set("X-Mpay-Signature", webhookSignature(secret_.exposeSecret(), body));
      session->sendRequest(req) << body;
      Poco::Net::HTTPResponse resp;
      session->receiveResponse(resp);
      if (resp.getStatus() / 100 != 2) return fail(ErrorCode::kIo, "webhook answered " + std::to_string(resp.getStatus()));
      return {};
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kIo, "webhook: " + e.displayText());
    }
  }

 private:
  Poco::URI uri_;
  Secret secret_;
  int timeout_ms_;
};

}  // namespace

std::string webhookSignature(ByteView secret, const std::string& body) {
  auto mac = suite::hmacSha256(secret, asBytes(body));
  return mac.ok() ? hexEncode(mac.value()) : std::string();
}

std::unique_ptr<Notifier> outboxFileNotifier(std::string path) { return std::make_unique<OutboxFile>(std::move(path)); }

Result<std::unique_ptr<Notifier>> webhookNotifier(const std::string& url, const std::string& secret_file,
                                                 int timeout_ms) {
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "bad webhook URL: " + e.displayText());
  }
  if (uri.getScheme() != "http" && uri.getScheme() != "https") return fail(ErrorCode::kConfig, "webhook URL must be http(s)");
  // The codes are secrets: in clear only to a provider's relay on this machine.
  Poco::Net::IPAddress address;
  const bool loopback = uri.getHost() == "localhost" ||
                        (Poco::Net::IPAddress::tryParse(uri.getHost(), address) && address.isLoopback());
  if (uri.getScheme() == "http" && !loopback)
    return fail(ErrorCode::kConfig, "webhook URL must be https unless its host is loopback: " + url);
  std::ifstream in(secret_file, std::ios::binary);
  if (!in.is_open()) return fail(ErrorCode::kConfig, "cannot read the webhook secret file " + secret_file);
  // Read into a Secret and nowhere else: no stream buffer of ours holds a copy.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 16 || size > 4096)
    return fail(ErrorCode::kConfig, "webhook secret must have 16 to 4096 bytes: " + secret_file);
  Secret read(static_cast<std::size_t>(size));
  auto bytes = read.exposeSecretMutable();
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
    return fail(ErrorCode::kConfig, "cannot read the webhook secret file " + secret_file);
  std::size_t length = bytes.size();
  while (length > 0 && (bytes[length - 1] == '\n' || bytes[length - 1] == '\r')) --length;
  if (length < 16) return fail(ErrorCode::kConfig, "webhook secret must have at least 16 bytes: " + secret_file);
  Secret secret = Secret::copyOf(bytes.first(length));
  return std::unique_ptr<Notifier>(std::make_unique<Webhook>(uri, std::move(secret), timeout_ms));
}

Result<std::unique_ptr<Notifier>> notifierFor(const GatewayConfig& g) {
  if (!g.webhook_url.empty()) return webhookNotifier(g.webhook_url, g.webhook_secret_file, 5000);
  if (!g.outbox.empty()) return outboxFileNotifier(g.outbox);
  return fail(ErrorCode::kConfig, "configure gateway.webhook_url or gateway.outbox for confirmation codes");
}

}  // namespace mpay::gateway
