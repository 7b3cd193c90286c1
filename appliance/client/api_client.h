// JSON over HTTP(S) to the gateway, for mpay-client. An error answer comes
// back as ApiFailure with the gateway's stable code.
#pragma once
#include <Poco/JSON/Object.h>

#include <string>

#include "common/result.h"

namespace mpay::client {

struct ApiFailure {
  int http_status = 0;  // 0: no answer at all
  std::string code, message;
};

using Json = Poco::JSON::Object::Ptr;

class ApiClient {
 public:
  // `ca_file`: PEM to trust for https:// URLs (the platform CA); empty uses the system store.
  ApiClient(std::string base_url, std::string ca_file) : base_(std::move(base_url)), ca_file_(std::move(ca_file)) {}
  Result<Json, ApiFailure> get(const std::string& path);
  Result<Json, ApiFailure> post(const std::string& path, const Poco::JSON::Object& body);

 private:
  Result<Json, ApiFailure> exchange(const std::string& method, const std::string& path, const std::string* body);
  std::string base_, ca_file_;
};

}  // namespace mpay::client
