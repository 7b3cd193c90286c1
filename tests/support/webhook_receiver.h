// An SMS gateway's webhook on loopback, as the bank's SMS provider would run
// it: records every POST (body and X-Mpay-Signature) and answers with the
// status the test chooses.
#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mpay::test {

struct WebhookDelivery {
  std::string body, signature;
  bool answered_ok = false;  // answered 2xx (not held past the sender's timeout)
};

class WebhookReceiver {
 public:
  // Plain HTTP on 127.0.0.1.
  WebhookReceiver();
  // HTTPS on `host` (a loopback address) with this key and certificate (PEM).
  WebhookReceiver(const std::string& host, const std::string& tls_key, const std::string& tls_cert);
  ~WebhookReceiver();
  std::string url(const std::string& path = "/sms") const;
  std::vector<WebhookDelivery> deliveries() const;
  void answerWith(int status);
  // Each request is held this long before its answer (a hanging provider); 0: none.
  void holdFor(std::chrono::milliseconds hold);

  struct Shared {
    mutable std::mutex mutex;
    std::vector<WebhookDelivery> deliveries;
    int status = 200;
    std::chrono::milliseconds hold{0};
  };

 private:
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::string scheme_ = "http", host_ = "127.0.0.1";
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace mpay::test
