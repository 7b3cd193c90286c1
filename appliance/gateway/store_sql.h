// What the store's source files share: database errors as API errors, and
// binary columns as base64url text (portable across SQLite and PostgreSQL).
#pragma once
#include <Poco/Exception.h>

#include <string>

#include "common/bytes.h"
#include "gateway/api_error.h"

namespace mpay::gateway {

// Logs the detail; the phone sees database_unavailable.
ApiError dbError(const std::string& where, const Poco::Exception& e);

// A stored base64url column back to bytes (empty if the text is not base64url).
Bytes unb64(const std::string& s);

// Runs a database step; a Poco exception becomes database_unavailable.
template <typename F>
auto guarded(const char* where, F&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const Poco::Exception& e) {
    return dbError(where, e);
  }
}

}  // namespace mpay::gateway
