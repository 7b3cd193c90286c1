// Stable error codes. These numbers cross process boundaries (the signer
// socket, later the HTTP API) and are documented in docs/protocol.md: never
// renumber one, only add.
#pragma once
#include <cstdint>
#include <string_view>

namespace mpay {

enum class ErrorCode : std::uint16_t {
  kOk = 0,
  kBadFrame = 1,            // frame or payload does not parse
  kUnsupportedVersion = 2,  // frame version byte is not 1
  kUnknownOperation = 3,    // operation id not in the signer's table
  kFrameTooLarge = 4,       // length prefix above the maximum frame size
  kNotPermitted = 5,        // caller's role may not call this operation
  kBadField = 6,            // a field parses but its value is out of range
  kHsmUnavailable = 7,      // the token cannot be reached; retry later
  kAuditUnavailable = 8,    // the audit record could not be written
  kDecryptFailed = 9,       // a sealed or encrypted field did not open
  kBadSignature = 10,       // a phone signature does not verify
  kBadPassword = 11,        // login password does not match its verifier
  kBadPin = 12,             // payment PIN does not match its verifier
  kBadCertificate = 13,     // user certificate not issued by this CA
  kBadPermit = 14,          // receipt permit missing, forged, expired or for other data
  kMismatch = 15,           // decrypted content contradicts the clear fields
  kRateLimited = 16,        // caller is over its operation budget
  kInternal = 17,           // a bug or an unexpected library failure
  kSessionExpired = 18,     // login session keys past their expiry
  kPasswordLocked = 19,     // the signer's own lockout: too many wrong passwords for this user (policy/signer.limits)
  kPinLocked = 20,          // the signer's own lockout: too many wrong PINs for this user (policy/signer.limits)
  kReplayed = 21,           // a login nonce or payment counter the signer has already seen
  kStaleTimestamp = 22,     // a signed timestamp outside the signer's window (policy/signer.limits)
  kPermitSpent = 23,        // the permit's receipt was already signed for another acquirer answer
  kBadAcquirerAnswer = 24,  // the acquirer's signature does not verify over the receipt's values
  kStateFull = 25,          // the signer's state table for this has no free slot; retry later
  // Local errors: never sent on a wire.
  kConfig = 100,            // configuration file invalid
  kPolicy = 101,            // policy file invalid
  kIo = 102,                // file or socket I/O failed
};

// Lower-case snake name used in logs, the audit log and docs.
std::string_view errorName(ErrorCode code);

}  // namespace mpay
