// An SMS gateway's webhook on loopback, as the bank's SMS provider would run
// it: records every POST (body and X-Mpay-Signature) and answers with the
// status the test chooses.
#pragma once
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mpay::test {

struct WebhookDelivery {
  std::string body, signature;
};

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  std::string url(const std::string& path = "/sms") const;
  std::vector<WebhookDelivery> deliveries() const;
  void answerWith(int status);

  struct Shared {
    mutable std::mutex mutex;
    std::vector<WebhookDelivery> deliveries;
    int status = 200;
  };

 private:
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace mpay::test
