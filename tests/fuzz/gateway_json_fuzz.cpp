// The gateway's request bodies, as anyone on the network can send them:
// strict JSON with exactly a route's keys, then each field read as every
// type. Properties: nothing throws (an exception escaping a handler would
// close the connection without an answer), and a binary field accepted as
// base64url is the canonical encoding of its bytes.
#include <string>

#include "fuzz_target.h"
#include "gateway/http_api.h"
#include "gateway/json_fields.h"

namespace {

using namespace mpay;
using namespace mpay::gateway;

constexpr std::size_t kMaxField = 4096;

void readEveryWay(const JsonFields& fields, const char* key) {
  if (!fields.has(key)) return;
  // As long as the longest text that can encode kMaxField bytes, so that a
  // field bytes() accepts is always one text() accepts too.
  auto text = fields.text(key, (kMaxField * 4 + 2) / 3);
  auto bytes = fields.bytes(key, kMaxField);
  if (bytes) MPAY_FUZZ_CHECK(text.ok() && base64url(*bytes) == *text);
  (void)fields.u64(key);
  (void)fields.flag(key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto routes = jsonRoutes();
  const JsonRoute& route = routes[data[0] % routes.size()];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto fields = JsonFields::parse(body, route.required, route.optional);
  if (!fields) return 0;
  for (const char* key : route.required) {
    MPAY_FUZZ_CHECK(fields->has(key));
    readEveryWay(*fields, key);
  }
  for (const char* key : route.optional) readEveryWay(*fields, key);
  return 0;
}
