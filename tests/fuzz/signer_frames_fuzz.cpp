// The signer's socket, as a compromised gateway could fill it, and the
// signer's answers, as the gateway reads them: a frame body (header, then a
// payload) parsed as every message type. Properties: parsing never crashes,
// and whatever parses encodes back to exactly the same bytes — one encoding
// per message, so nothing the signer accepts can mean two things.
#include <algorithm>

#include "common/signer_protocol.h"
#include "fuzz_target.h"

namespace {

using namespace mpay;

template <typename M>
void parsesToItsOwnEncoding(ByteView payload) {
  auto message = wire::parseMessage<M>(payload);
  if (!message) return;
  const Bytes again = wire::encodeMessage(*message);
  MPAY_FUZZ_CHECK(std::equal(again.begin(), again.end(), payload.begin(), payload.end()));
}

template <typename... Messages>
void eachParsesToItsOwnEncoding(ByteView payload) {
  (parsesToItsOwnEncoding<Messages>(payload), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wire::RequestHeader header;
  ByteView payload;
  if (!wire::parseRequestHeader(ByteView(data, size), &header, &payload)) {
    MPAY_FUZZ_CHECK(size < wire::kHeaderLen);
    return 0;
  }
  MPAY_FUZZ_CHECK(payload.size() == size - wire::kHeaderLen);
  if (header.version == wire::kVersion) {  // what the client side writes: u32 length, then this body
    const Bytes framed = wire::encodeRequest(static_cast<wire::OpId>(header.op), header.request_id, payload);
    MPAY_FUZZ_CHECK(framed.size() == 4 + size && std::equal(framed.begin() + 4, framed.end(), data));
  }

  eachParsesToItsOwnEncoding<wire::Empty, wire::PlatformInfoResponse, wire::HealthResponse,
                             wire::AuditHeadResponse, wire::AuditTailResponse, wire::RecordStartRequest, wire::OpenRegistrationRequest,
                             wire::OpenRegistrationResponse, wire::OpenLoginRequest, wire::OpenLoginResponse,
                             wire::OpenPaymentRequest, wire::OpenPaymentResponse, wire::SignReceiptRequest,
                             wire::SignReceiptResponse>(payload);
  return 0;
}
