#include "support/webhook_receiver.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/StreamCopier.h>

#include <thread>

namespace mpay::test {
namespace {

class Record : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Record(std::shared_ptr<WebhookReceiver::Shared> shared) : shared_(std::move(shared)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    WebhookDelivery delivery;
    Poco::StreamCopier::copyToString(req.stream(), delivery.body);
    delivery.signature = req.get("X-Mpay-Signature", "");
    std::chrono::milliseconds hold;
    int status = 0;
    std::size_t index = 0;
    {
      std::lock_guard lock(shared_->mutex);
      hold = shared_->hold;
      status = shared_->status;
      index = shared_->deliveries.size();
      shared_->deliveries.push_back(std::move(delivery));
    }
    // Held in slices, so that holdFor(0) lets the held requests go.
    const auto until = std::chrono::steady_clock::now() + hold;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lock(shared_->mutex);
        if (shared_->hold.count() == 0) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    try {
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      resp.send() << "{}" << std::flush;
    } catch (const Poco::Exception&) {
      return;  // the sender gave up waiting
    }
    // Answered in time only if the sender was still there: a held request's
    // sender has timed out and closed, so it counts as not taken.
    std::lock_guard lock(shared_->mutex);
    shared_->deliveries[index].answered_ok = status / 100 == 2 && hold.count() == 0;
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

WebhookReceiver::WebhookReceiver(const std::string& host, const std::string& tls_key, const std::string& tls_cert)
    : scheme_("https"),
      host_(host),
      socket_(Poco::Net::SecureServerSocket(
          Poco::Net::SocketAddress(host, 0), 64,
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, tls_key, tls_cert, "",
                                 Poco::Net::Context::VERIFY_NONE))),
      server_(std::make_unique<Poco::Net::HTTPServer>(new RecordAll(shared_), socket_, new Poco::Net::HTTPServerParams)) {
  server_->start();
}

WebhookReceiver::~WebhookReceiver() { server_->stop(); }

std::string WebhookReceiver::url(const std::string& path) const {
  return scheme_ + "://" + host_ + ":" + std::to_string(socket_.address().port()) + path;
}

std::vector<WebhookDelivery> WebhookReceiver::deliveries() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->deliveries;
}

void WebhookReceiver::holdFor(std::chrono::milliseconds hold) {
  std::lock_guard lock(shared_->mutex);
  shared_->hold = hold;
}

void WebhookReceiver::answerWith(int status) {
  std::lock_guard lock(shared_->mutex);
  shared_->status = status;
}

}  // namespace mpay::test
