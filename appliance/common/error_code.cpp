#include "common/error_code.h"

namespace mpay {

std::string_view errorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kBadFrame: return "bad_frame";
    case ErrorCode::kUnsupportedVersion: return "unsupported_version";
    case ErrorCode::kUnknownOperation: return "unknown_operation";
    case ErrorCode::kFrameTooLarge: return "frame_too_large";
    case ErrorCode::kNotPermitted: return "not_permitted";
    case ErrorCode::kBadField: return "bad_field";
    case ErrorCode::kHsmUnavailable: return "hsm_unavailable";
    case ErrorCode::kAuditUnavailable: return "audit_unavailable";
    case ErrorCode::kDecryptFailed: return "decrypt_failed";
    case ErrorCode::kBadSignature: return "bad_signature";
    case ErrorCode::kBadPassword: return "bad_password";
    case ErrorCode::kBadPin: return "bad_pin";
    case ErrorCode::kBadCertificate: return "bad_certificate";
    case ErrorCode::kBadPermit: return "bad_permit";
    case ErrorCode::kMismatch: return "mismatch";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kSessionExpired: return "session_expired";
    case ErrorCode::kPasswordLocked: return "password_locked";
    case ErrorCode::kPinLocked: return "pin_locked";
    case ErrorCode::kReplayed: return "replayed";
    case ErrorCode::kStaleTimestamp: return "stale_timestamp";
    case ErrorCode::kPermitSpent: return "permit_spent";
    case ErrorCode::kBadAcquirerAnswer: return "bad_acquirer_answer";
    case ErrorCode::kStateFull: return "state_full";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kPolicy: return "policy";
    case ErrorCode::kIo: return "io";
  }
  return "unknown";
}

}  // namespace mpay
