#include "gateway/acquirer.h"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include "gateway/http_client.h"
#include "gateway/json_fields.h"
#include "suite/messages.h"

namespace mpay::gateway {
namespace {

// An authorization answer is a few fields; anything longer is refused unread.
constexpr std::size_t kMaxAnswer = 4096;

class HttpAcquirer : public AcquirerConnector {
 public:
  HttpAcquirer(Poco::URI base, int timeout_ms) : base_(base), sessions_(std::move(base), timeout_ms) {}

  Result<AuthorizationResult> authorize(const AuthorizationRequest& r) override {
    Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
    body.set("order_no", r.order_no);
    body.set("phone", r.phone);
    body.set("amount_minor", r.amount_minor);
    body.set("currency", r.currency);
    body.set("content", r.content);
    const std::string text = toJson(body);
    try {
      auto session = sessions_.take();
      Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, base_.getPath() + "/v1/authorize",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
      req.setKeepAlive(true);
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(text.size()));
      session->sendRequest(req) << text;
      Poco::Net::HTTPResponse resp;
      std::istream& in = session->receiveResponse(resp);
      auto read = readAtMost(in, kMaxAnswer);
      if (!read) return fail(ErrorCode::kIo, "acquirer answer longer than " + std::to_string(kMaxAnswer) + " bytes");
      const std::string answer = std::move(read).value();
      if (resp.getKeepAlive()) sessions_.giveBack(std::move(session));
      if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
        return fail(ErrorCode::kIo, "acquirer answered " + std::to_string(resp.getStatus()));
      auto parsed = JsonFields::parse(answer, {"order_no", "phone", "amount_minor", "currency", "result", "transaction_no",
                                               "time", "signature"});
      if (!parsed) return fail(ErrorCode::kIo, "acquirer answer malformed: " + parsed.error().message);
      const JsonFields& fields = parsed.value();
      auto result = fields.text("result", 8);
      auto transaction_no = fields.text("transaction_no", 64);
      auto order_no = fields.text("order_no", 64);
      auto phone = fields.text("phone", 16);
      auto amount = fields.u64("amount_minor");
      auto currency = fields.text("currency", 3);
      auto time = fields.u64("time");
      auto signature = fields.bytes("signature", 72);
      if (!result || !transaction_no || !order_no || !phone || !amount || !currency || !time || !signature ||
          (*result != "approved" && *result != "declined") || !suite::validOrderNo(*transaction_no))
        return fail(ErrorCode::kIo, "acquirer answer malformed");
      // An answer about other terms is no answer to this request.
      if (*order_no != r.order_no || *phone != r.phone || *amount != r.amount_minor || *currency != r.currency)
        return fail(ErrorCode::kIo, "acquirer answered for other terms");
      return AuthorizationResult{*result == "approved", *transaction_no, *time, std::move(signature).value()};
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kIo, "acquirer: " + e.displayText());
    }
  }

 private:
  Poco::URI base_;
  ClientSessionPool sessions_;
};

}  // namespace

Result<std::unique_ptr<AcquirerConnector>> httpAcquirer(const std::string& base_url, int timeout_ms) {
  try {
    Poco::URI uri(base_url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") return fail(ErrorCode::kConfig, "acquirer URL must be http(s)");
    return std::unique_ptr<AcquirerConnector>(std::make_unique<HttpAcquirer>(uri, timeout_ms));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "bad acquirer URL: " + e.displayText());
  }
}

}  // namespace mpay::gateway
