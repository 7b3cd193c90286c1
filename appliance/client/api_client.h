// JSON over HTTP(S) to the gateway, for mpay-client. An error answer comes
// back as ApiFailure with the gateway's stable code.
#pragma once
#include <Poco/JSON/Object.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace Poco::Net {
class HTTPClientSession;
}

namespace mpay::client {

struct ApiFailure {
  int http_status = 0;  // 0: no answer at all
  std::string code, message;
};

using Json = Poco::JSON::Object::Ptr;

// One connection, kept alive between requests as an app keeps it, and
// opened again after an error or when it sat idle longer than any gateway
// keeps an idle connection. One thread at a time.
class ApiClient {
 public:
  // `ca_file`: PEM to trust for https:// URLs (the platform CA); empty uses the system store.
  ApiClient(std::string base_url, std::string ca_file);
  ApiClient(ApiClient&&) noexcept;
  ~ApiClient();
  Result<Json, ApiFailure> get(const std::string& path);
  Result<Json, ApiFailure> post(const std::string& path, const Poco::JSON::Object& body);

 private:
  Result<Json, ApiFailure> exchange(const std::string& method, const std::string& path, const std::string* body);
  Poco::Net::HTTPClientSession& connection();
  std::string base_, ca_file_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

}  // namespace mpay::client
