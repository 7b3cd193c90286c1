// The HTTP API's stable error codes: every error body is
// {"error": "<code>", "message": "<text>"} with the status from this table.
// docs/protocol.md lists them (generated from kApiErrors; a test compares).
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mpay::gateway {

enum class ApiCode {
  kMalformedRequest, kMalformedJson, kBadField, kPayloadTooLarge, kNotFound, kMethodNotAllowed, kRequestTimeout, kRateLimited,
  kAlreadyRegistered, kRegistrationExpired, kBadRegistrationCode, kBadConfirmation, kRegistrationUnconfirmed,
  kBadCredentials, kAccountLocked, kStaleRequest, kReplayedRequest, kDecryptFailed, kBadSignature,
  kUnknownSession, kSessionExpired, kBadPin, kPinLocked, kOrderConflict, kAcquirerUnavailable,
  kPaymentPending, kSignerUnavailable, kDatabaseUnavailable, kOverloaded, kUnauthorized, kInternal,
};

struct ApiErrorInfo {
  ApiCode code;
  std::string_view name;
  int http_status;
  std::string_view meaning;
};
std::span<const ApiErrorInfo> apiErrors();
const ApiErrorInfo& apiErrorInfo(ApiCode code);

struct ApiError {
  ApiCode code = ApiCode::kInternal;
  std::string message;  // safe to show the phone: no secret, no internals
};

template <typename T>
using ApiResult = Result<T, ApiError>;
using ApiStatus = Result<void, ApiError>;

inline ApiError apiError(ApiCode code, std::string message) { return ApiError{code, std::move(message)}; }

// Markdown table of every code, for docs/protocol.md (kept in sync by a test).
std::string renderApiErrors();

// A signer refusal, as the phone should see it; the detail goes to the log.
ApiError fromSignerError(const Error& e);

}  // namespace mpay::gateway
