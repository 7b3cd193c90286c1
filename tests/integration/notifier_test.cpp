// The SMS webhook notifier against a real HTTP server on loopback.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include <fstream>
#include <mutex>

#include "gateway/notifier.h"
#include "support/dev_appliance.h"
#include "support/running_appliance.h"

namespace mpay::gateway {
namespace {

struct Captured {
  std::mutex mutex;
  std::string body, signature;
  int status = 200;
};

class Capture : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Capture(Captured& c) : c_(c) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    std::lock_guard lock(c_.mutex);
    Poco::StreamCopier::copyToString(req.stream(), c_.body);
    c_.signature = req.get("X-Mpay-Signature", "");
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(c_.status));
    resp.send() << "{}";
  }

 private:
  Captured& c_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Captured& c) : c_(c) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Capture(c_);
  }

 private:
  Captured& c_;
};

TEST(WebhookNotifier, PostsTheCodeWithAnHmacSignatureHeader) {
  Captured captured;
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  Poco::Net::HTTPServer server(new Factory(captured), socket, new Poco::Net::HTTPServerParams);
  server.start();
  test::TempDir dir;
  const std::string secret_file = dir.path() + "/webhook.secret";
  std::ofstream(secret_file) << "0123456789abcdef0123456789abcdef\n";
  auto notifier = webhookNotifier("http://127.0.0.1:" + std::to_string(socket.address().port()) + "/sms",
                                  secret_file, 2000);
  ASSERT_TRUE(notifier.ok()) << notifier.error().detail;
  ASSERT_TRUE(notifier.value()->deliver({"id-1", "+8613800138000", "12345678"}).ok());
  {
    std::lock_guard lock(captured.mutex);
    EXPECT_EQ(test::jsonField(captured.body, "code"), "12345678");
    EXPECT_EQ(test::jsonField(captured.body, "phone"), "+8613800138000");
    EXPECT_EQ(captured.signature, webhookSignature(asBytes("0123456789abcdef0123456789abcdef"), captured.body));
    EXPECT_EQ(captured.signature.size(), 64u);
    captured.status = 503;
  }
  EXPECT_FALSE(notifier.value()->deliver({"id-2", "+8613800138000", "87654321"}).ok()) << "a refused delivery is an error";
  server.stop();
}

TEST(WebhookNotifier, RefusesShortSecretsAndBadUrls) {
  test::TempDir dir;
  const std::string secret_file = dir.path() + "/short";
  std::ofstream(secret_file) << "short";
  EXPECT_FALSE(webhookNotifier("http://127.0.0.1:1/sms", secret_file, 1000).ok());
  std::ofstream(secret_file, std::ios::trunc) << "0123456789abcdef0123456789abcdef";
  EXPECT_FALSE(webhookNotifier("ftp://127.0.0.1/sms", secret_file, 1000).ok());
}

}  // namespace
}  // namespace mpay::gateway
