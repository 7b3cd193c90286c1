#include "gateway/api_error.h"

#include <array>

namespace mpay::gateway {
namespace {

// clang-format off
constexpr std::array kApiErrors = {
  ApiErrorInfo{ApiCode::kMalformedRequest,    "malformed_request",     400, "the HTTP request itself (request line or headers) does not parse"},
  ApiErrorInfo{ApiCode::kMalformedJson,       "malformed_json",        400, "the body is not the JSON object this endpoint takes"},
  ApiErrorInfo{ApiCode::kBadField,            "bad_field",             400, "a field is missing, of the wrong type, badly encoded or out of range"},
  ApiErrorInfo{ApiCode::kPayloadTooLarge,     "payload_too_large",     413, "the body is larger than gateway.max_body"},
  ApiErrorInfo{ApiCode::kNotFound,            "not_found",             404, "no such endpoint"},
  ApiErrorInfo{ApiCode::kMethodNotAllowed,    "method_not_allowed",    405, "the endpoint does not take this method"},
  ApiErrorInfo{ApiCode::kRequestTimeout,      "request_timeout",       408, "the request was not received within gateway.request_timeout_ms"},
  ApiErrorInfo{ApiCode::kRateLimited,         "rate_limited",          429, "too many requests from this phone number or address, or for this user (the signer's own budget)"},
  ApiErrorInfo{ApiCode::kAlreadyRegistered,   "already_registered",    409, "this phone number is registered and active"},
  ApiErrorInfo{ApiCode::kRegistrationExpired, "registration_expired",  410, "the registration code expired; register again"},
  ApiErrorInfo{ApiCode::kBadRegistrationCode, "bad_registration_code", 401, "wrong registration code, or no registration pending for this phone (after gateway.max_code_attempts, register again)"},
  ApiErrorInfo{ApiCode::kBadConfirmation,     "bad_confirmation",      401, "wrong confirmation proof, or no registration to confirm for this phone (after gateway.max_code_attempts, register again)"},
  ApiErrorInfo{ApiCode::kRegistrationUnconfirmed, "registration_unconfirmed", 403, "the password is right but the SMS confirmation was never proven: finish activation (POST /v1/confirm)"},
  ApiErrorInfo{ApiCode::kBadCredentials,      "bad_credentials",       401, "unknown phone number or wrong password"},
  ApiErrorInfo{ApiCode::kAccountLocked,       "account_locked",        423, "too many wrong passwords; wait for the lockout to end"},
  ApiErrorInfo{ApiCode::kStaleRequest,        "stale_request",         401, "the signed timestamp is outside gateway.replay_window"},
  ApiErrorInfo{ApiCode::kReplayedRequest,     "replayed_request",      409, "this login nonce or payment counter was already used"},
  ApiErrorInfo{ApiCode::kDecryptFailed,       "decrypt_failed",        400, "a sealed or encrypted field does not open"},
  ApiErrorInfo{ApiCode::kBadSignature,        "bad_signature",         401, "the signature does not verify with the user's certificate"},
  ApiErrorInfo{ApiCode::kUnknownSession,      "unknown_session",       401, "no such session for this phone; log in"},
  ApiErrorInfo{ApiCode::kSessionExpired,      "session_expired",       401, "the session expired; log in again"},
  ApiErrorInfo{ApiCode::kBadPin,              "bad_pin",               401, "wrong payment PIN"},
  ApiErrorInfo{ApiCode::kPinLocked,           "pin_locked",            423, "too many wrong PINs; wait for the lockout to end"},
  ApiErrorInfo{ApiCode::kOrderConflict,       "order_conflict",        409, "this order number was used for a different payment"},
  ApiErrorInfo{ApiCode::kAcquirerUnavailable, "acquirer_unavailable",  502, "the acquirer did not answer; the payment was not made"},
  ApiErrorInfo{ApiCode::kPaymentPending,      "payment_pending",       504, "the outcome is not known yet; the appliance completes the order, and the same payment sent again returns it"},
  ApiErrorInfo{ApiCode::kSignerUnavailable,   "signer_unavailable",    503, "the signer or its HSM is unavailable; retry later"},
  ApiErrorInfo{ApiCode::kDatabaseUnavailable, "database_unavailable",  503, "the database is unavailable; retry later"},
  ApiErrorInfo{ApiCode::kOverloaded,          "overloaded",            503, "gateway.max_connections connections are open (or gateway.max_connections_per_source from this address), no worker was free within gateway.request_timeout_ms, or an order is contended; retry"},
  ApiErrorInfo{ApiCode::kUnauthorized,        "unauthorized",          401, "management listener only: GET /console without the token of gateway.console_token_file"},
  ApiErrorInfo{ApiCode::kInternal,            "internal",              500, "an unexpected failure, logged with the request id"},
};
// clang-format on

}  // namespace

std::span<const ApiErrorInfo> apiErrors() { return kApiErrors; }

const ApiErrorInfo& apiErrorInfo(ApiCode code) {
  for (const auto& e : kApiErrors)
    if (e.code == code) return e;
  return kApiErrors.back();
}

std::string renderApiErrors() {
  std::string out = "| error | HTTP | meaning |\n|---|---|---|\n";
  for (const auto& e : kApiErrors)
    out += "| `" + std::string(e.name) + "` | " + std::to_string(e.http_status) + " | " + std::string(e.meaning) + " |\n";
  return out;
}

ApiError fromSignerError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kBadField: return apiError(ApiCode::kBadField, "a field is out of range");
    case ErrorCode::kBadFrame: return apiError(ApiCode::kBadField, "a field does not parse");
    case ErrorCode::kDecryptFailed: return apiError(ApiCode::kDecryptFailed, "a ciphertext does not open");
    case ErrorCode::kBadSignature: return apiError(ApiCode::kBadSignature, "signature does not verify");
    case ErrorCode::kBadPassword: return apiError(ApiCode::kBadCredentials, "unknown phone or wrong password");
    case ErrorCode::kBadPin: return apiError(ApiCode::kBadPin, "wrong PIN");
    case ErrorCode::kBadCertificate: return apiError(ApiCode::kBadCredentials, "certificate not accepted");
    case ErrorCode::kMismatch: return apiError(ApiCode::kBadField, "fields contradict each other");
    case ErrorCode::kSessionExpired: return apiError(ApiCode::kSessionExpired, "session expired");
    case ErrorCode::kRateLimited: return apiError(ApiCode::kRateLimited, "too many attempts for this user; retry later");
    case ErrorCode::kPasswordLocked: return apiError(ApiCode::kAccountLocked, "too many wrong passwords; locked for a while");
    case ErrorCode::kPinLocked: return apiError(ApiCode::kPinLocked, "too many wrong PINs; locked for a while");
    case ErrorCode::kReplayed: return apiError(ApiCode::kReplayedRequest, "request already used");
    case ErrorCode::kStaleTimestamp: return apiError(ApiCode::kStaleRequest, "timestamp outside the allowed window");
    case ErrorCode::kStateFull: return apiError(ApiCode::kOverloaded, "the signer is at capacity; retry later");
    case ErrorCode::kHsmUnavailable: return apiError(ApiCode::kSignerUnavailable, "the HSM is unavailable");
    case ErrorCode::kAuditUnavailable:
    case ErrorCode::kIo: return apiError(ApiCode::kSignerUnavailable, "signer unavailable");
    default: return apiError(ApiCode::kInternal, "internal error");
  }
}

}  // namespace mpay::gateway
