// Strict reading of JSON request bodies: the body must be one object with
// exactly the expected keys; each field has a type and a bound. Binary
// fields are base64url without padding (RFC 4648 §5).
#pragma once
#include <Poco/JSON/Object.h>

#include <initializer_list>
#include <string>

#include "common/bytes.h"
#include "gateway/api_error.h"

namespace mpay::gateway {

// The largest integer u64() takes: what an IEEE 754 double holds exactly.
inline constexpr std::uint64_t kMaxJsonInteger = (std::uint64_t{1} << 53) - 1;

std::string base64url(ByteView bytes);
ApiResult<Bytes> unbase64url(const std::string& text, std::size_t max_bytes);

class JsonFields {
 public:
  // Parses `body`; every key must be in `required` or `optional`.
  static ApiResult<JsonFields> parse(const std::string& body, std::initializer_list<const char*> required,
                                     std::initializer_list<const char*> optional = {});
  bool has(const std::string& key) const { return object_->has(key); }
  ApiResult<std::string> text(const std::string& key, std::size_t max_len) const;
  ApiResult<Bytes> bytes(const std::string& key, std::size_t max_len) const;
  ApiResult<std::uint64_t> u64(const std::string& key) const;
  ApiResult<bool> flag(const std::string& key) const;

 private:
  explicit JsonFields(Poco::JSON::Object::Ptr o) : object_(std::move(o)) {}
  Poco::JSON::Object::Ptr object_;
};

std::string toJson(const Poco::JSON::Object& object);

}  // namespace mpay::gateway
