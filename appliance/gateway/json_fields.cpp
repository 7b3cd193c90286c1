#include "gateway/json_fields.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace mpay::gateway {
namespace {
constexpr int kB64Options = Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING;

ApiError badField(const std::string& key, const std::string& why) {
  return apiError(ApiCode::kBadField, "'" + key + "' " + why);
}

// True when a number outside the body's strings has more than 16 digits in a
// row. Poco's parser wraps integers beyond 2^64 (2^64 + 1 reads as 1), so
// those are refused on the text itself: every integer mpay takes is below
// 2^53, which has 16 digits.
bool hasOverlongNumber(const std::string& body) {
  bool in_string = false, escaped = false;
  int digits = 0;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
    if (digits > 16) return true;
  }
  return false;
}
}  // namespace

std::string base64url(ByteView bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, kB64Options);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

ApiResult<Bytes> unbase64url(const std::string& text, std::size_t max_bytes) {
  // The alphabet check first: Poco's decoder skips some characters silently.
  const bool clean = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
  if (!clean || text.size() % 4 == 1 || text.size() > (max_bytes * 4 + 2) / 3)
    return apiError(ApiCode::kBadField, "not base64url, or too long");
  try {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in, kB64Options);
    std::string raw((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    if (raw.size() > max_bytes) return apiError(ApiCode::kBadField, "too long");
    if (base64url(asBytes(raw)) != text) return apiError(ApiCode::kBadField, "not canonical base64url");
    return Bytes(raw.begin(), raw.end());
  } catch (const Poco::Exception&) {
    return apiError(ApiCode::kBadField, "not base64url");
  }
}

ApiResult<JsonFields> JsonFields::parse(const std::string& body, std::initializer_list<const char*> required,
                                        std::initializer_list<const char*> optional) {
  if (hasOverlongNumber(body)) return apiError(ApiCode::kBadField, "a number has more digits than any field takes");
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    auto value = parser.parse(body);
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) return apiError(ApiCode::kMalformedJson, "expected an object");
    object = value.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return apiError(ApiCode::kMalformedJson, "body is not JSON");
  }
  std::set<std::string> allowed;
  for (const char* k : required) allowed.insert(k);
  for (const char* k : optional) allowed.insert(k);
  for (const auto& [key, value] : *object)
    if (!allowed.contains(key)) return apiError(ApiCode::kBadField, "unknown field '" + key + "'");
  for (const char* k : required)
    if (!object->has(k)) return apiError(ApiCode::kBadField, std::string("missing field '") + k + "'");
  return JsonFields(object);
}

ApiResult<std::string> JsonFields::text(const std::string& key, std::size_t max_len) const {
  auto v = object_->get(key);
  if (!v.isString()) return badField(key, "must be a string");
  std::string s = v.extract<std::string>();
  if (s.size() > max_len) return badField(key, "is too long");
  return s;
}

ApiResult<Bytes> JsonFields::bytes(const std::string& key, std::size_t max_len) const {
  MPAY_ASSIGN_OR_RETURN(std::string s, text(key, (max_len * 4 + 2) / 3));
  auto b = unbase64url(s, max_len);
  if (!b.ok()) return badField(key, b.error().message);
  return b;
}

ApiResult<std::uint64_t> JsonFields::u64(const std::string& key) const {
  auto v = object_->get(key);
  if (!v.isInteger() || v.isBoolean()) return badField(key, "must be an integer");
  try {
    if (v.isSigned() && v.convert<Poco::Int64>() < 0) return badField(key, "must not be negative");
    const auto value = v.convert<Poco::UInt64>();
    // Beyond 2^53 - 1 a JSON number is not held exactly by every parser
    // (a phone's JavaScript, say): such values are refused, never rounded.
    if (value > kMaxJsonInteger) return badField(key, "is above 2^53 - 1");
    return value;
  } catch (const Poco::Exception&) {
    return badField(key, "is out of range");
  }
}

ApiResult<bool> JsonFields::flag(const std::string& key) const {
  auto v = object_->get(key);
  if (!v.isBoolean()) return badField(key, "must be true or false");
  return v.extract<bool>();
}

std::string toJson(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

}  // namespace mpay::gateway
