// What a phone sends, once the signer has opened it, and what a phone reads:
// the suite's decoders (info1, login C1 and keys, critical-payment plaintext,
// receipts, registration files, EC points and keys, signature encodings,
// ECIES envelopes). Properties: no crash, and every decoder with an encoder
// accepts only the encoder's own output — one encoding per value.
#include <algorithm>

#include "fuzz_fixtures.h"
#include "fuzz_target.h"
#include "suite/ecies.h"
#include "suite/messages.h"

namespace {

using namespace mpay;
using fuzz::PhoneCase;

bool same(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

template <typename Parse, typename Encode>
void secretRoundTrip(ByteView input, Parse parse, Encode encode) {
  auto parsed = parse(Secret::copyOf(input));
  if (parsed) MPAY_FUZZ_CHECK(same(encode(*parsed).exposeSecret(), input));
}

// Two conversions that may fail: what the first accepts, the second turns back.
void inverses(ByteView input, Result<Bytes> (*there)(ByteView), Result<Bytes> (*back)(ByteView)) {
  auto converted = there(input);
  if (!converted) return;
  auto again = back(*converted);
  MPAY_FUZZ_CHECK(again.ok() && same(*again, input));
}

void run(PhoneCase which, ByteView input) {
  switch (which) {
    case PhoneCase::kInfo1:
      return secretRoundTrip(input, suite::parseInfo1, suite::encodeInfo1);
    case PhoneCase::kLoginC1:
      return secretRoundTrip(input, suite::parseLoginC1, suite::encodeLoginC1);
    case PhoneCase::kLoginKeys:
      return secretRoundTrip(input, suite::parseLoginKeys, suite::encodeLoginKeys);
    case PhoneCase::kCriticalPlaintext: {
      auto parsed = suite::parseCriticalPlaintext(Secret::copyOf(input));
      if (parsed) MPAY_FUZZ_CHECK(same(suite::encodeCriticalPlaintext(parsed->first, parsed->second), input));
      return;
    }
    case PhoneCase::kReceipt: {
      auto parsed = suite::parseReceiptBytes(input);
      if (parsed) MPAY_FUZZ_CHECK(same(suite::receiptBytes(*parsed), input));
      return;
    }
    case PhoneCase::kRegistrationFile: {
      auto p12 = suite::openRegistrationFile(input, fuzz::kRegistrationCode, fuzz::kConfirmationCode);
      if (p12) {
        auto rebuilt = suite::buildRegistrationFile(*p12, fuzz::kRegistrationCode, fuzz::kConfirmationCode);
        MPAY_FUZZ_CHECK(rebuilt.ok() && same(*rebuilt, input));
      }
      return;
    }
    case PhoneCase::kPoint: {
      auto key = suite::EcPublicKey::fromPoint(input);
      if (key) MPAY_FUZZ_CHECK(same(key->point(), input));
      return;
    }
    case PhoneCase::kSpki: {
      auto key = suite::EcPublicKey::fromSpki(input);
      if (key) MPAY_FUZZ_CHECK(suite::EcPublicKey::fromPoint(key->point()).ok());
      return;
    }
    case PhoneCase::kDerSignature:
      return inverses(input, suite::derToP1363, suite::p1363ToDer);
    case PhoneCase::kP1363Signature:
      return inverses(input, suite::p1363ToDer, suite::derToP1363);
    case PhoneCase::kSealedInfo1: {
      // As the signer opens it, with the ECDH done in memory instead of the token.
      const auto& recipient = fuzz::recipientKey();
      auto opened = suite::eciesOpen(recipient.publicKey().point(), suite::label::kRegister, input,
                                     [&](const suite::EcPublicKey& e) { return recipient.ecdh(e); });
      if (opened) (void)suite::parseInfo1(*opened);
      return;
    }
    case PhoneCase::kCount:
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto which = static_cast<PhoneCase>(data[0] % static_cast<std::uint8_t>(PhoneCase::kCount));
  run(which, ByteView(data + 1, size - 1));
  return 0;
}
