#include "support/webhook_receiver.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

namespace mpay::test {
namespace {

class Record : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Record(std::shared_ptr<WebhookReceiver::Shared> shared) : shared_(std::move(shared)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    WebhookDelivery delivery;
    Poco::StreamCopier::copyToString(req.stream(), delivery.body);
    delivery.signature = req.get("X-Mpay-Signature", "");
    int status = 0;
    {
      std::lock_guard lock(shared_->mutex);
      shared_->deliveries.push_back(std::move(delivery));
      status = shared_->status;
    }
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    resp.send() << "{}";
  }

 private:
  std::shared_ptr<WebhookReceiver::Shared> shared_;
};

class RecordAll : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RecordAll(std::shared_ptr<WebhookReceiver::Shared> shared) : shared_(std::move(shared)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Record(shared_);
  }

 private:
  std::shared_ptr<WebhookReceiver::Shared> shared_;
};

}  // namespace

WebhookReceiver::WebhookReceiver()
    : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)),
      server_(std::make_unique<Poco::Net::HTTPServer>(new RecordAll(shared_), socket_, new Poco::Net::HTTPServerParams)) {
  server_->start();
}

WebhookReceiver::~WebhookReceiver() { server_->stop(); }

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
}

std::vector<WebhookDelivery> WebhookReceiver::deliveries() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->deliveries;
}

void WebhookReceiver::answerWith(int status) {
  std::lock_guard lock(shared_->mutex);
  shared_->status = status;
}

}  // namespace mpay::test
