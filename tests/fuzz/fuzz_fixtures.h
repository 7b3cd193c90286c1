// What the fuzz targets and their seed generator (make_seeds.cpp) share: the
// layout of the multi-parser targets' inputs and the fixed keys and codes
// the seeds were made with, so that seeds reach past the first check.
#pragma once
#include <cstdint>
#include <string_view>

#include "suite/ec.h"

namespace mpay::fuzz {

// phone_messages: the first byte picks the parser (modulo kCount), the rest is its input.
enum class PhoneCase : std::uint8_t {
  kInfo1,
  kLoginC1,
  kLoginKeys,
  kCriticalPlaintext,
  kReceipt,
  kRegistrationFile,
  kPoint,
  kSpki,
  kDerSignature,
  kP1363Signature,
  kSealedInfo1,
  kCount
};

// gateway_json: the first byte picks the route in gateway::jsonRoutes() (modulo
// its size), the rest is the request body.

inline constexpr std::string_view kRegistrationCode = "123456789012";
inline constexpr std::string_view kConfirmationCode = "654321";

// Scalars 0x01…01 and 0x02…02: in range, and fixed so seeds stay valid.
inline const suite::EcPrivateKey& fixedKey(std::uint8_t fill) {
  static const suite::EcPrivateKey one = suite::EcPrivateKey::fromScalar(Secret::copyOf(Bytes(32, 0x01))).value();
  static const suite::EcPrivateKey two = suite::EcPrivateKey::fromScalar(Secret::copyOf(Bytes(32, 0x02))).value();
  return fill == 1 ? one : two;
}
inline const suite::EcPrivateKey& recipientKey() { return fixedKey(1); }
inline const suite::EcPrivateKey& ephemeralKey() { return fixedKey(2); }

}  // namespace mpay::fuzz
