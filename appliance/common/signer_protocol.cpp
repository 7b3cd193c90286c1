#include "common/signer_protocol.h"

namespace mpay::wire {

Bytes encodeRequest(OpId op, std::uint32_t request_id, ByteView payload) {
  ByteWriter w;
  w.u32(static_cast<std::uint32_t>(kHeaderLen + payload.size()))
      .u8(kVersion).u16(static_cast<std::uint16_t>(op)).u32(request_id).raw(payload);
  return w.take();
}

Bytes encodeResponse(ErrorCode status, std::uint32_t request_id, ByteView payload) {
  ByteWriter w;
  w.u32(static_cast<std::uint32_t>(kHeaderLen + payload.size()))
      .u8(kVersion).u16(static_cast<std::uint16_t>(status)).u32(request_id).raw(payload);
  return w.take();
}

bool parseRequestHeader(ByteView body, RequestHeader* header, ByteView* payload) {
  ByteReader r(body);
  if (!r.u8(&header->version) || !r.u16(&header->op) || !r.u32(&header->request_id)) return false;
  *payload = body.subspan(kHeaderLen);
  return true;
}

Bytes encodeCertificateList(const std::vector<Bytes>& certificates) {
  ByteWriter w;
  for (const auto& c : certificates) w.field(c);
  return w.take();
}

Result<std::vector<Bytes>> decodeCertificateList(ByteView list) {
  ByteReader r(list);
  std::vector<Bytes> out;
  while (!r.empty()) {
    ByteView one;
    if (out.size() == kMaxReceiptCertificates || !r.field(&one, kMaxCertificate) || one.empty())
      return fail(ErrorCode::kBadFrame, "certificate list");
    out.emplace_back(one.begin(), one.end());
  }
  return out;
}

}  // namespace mpay::wire
