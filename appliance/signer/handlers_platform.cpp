// Operations on public data only: no secret is touched here.
#include "common/audit_log.h"
#include "signer/operations.h"
#include "suite/messages.h"

namespace mpay::signer {
namespace {

Status expectEmpty(ByteView payload) {
  if (!payload.empty()) return fail(ErrorCode::kBadFrame, "this operation takes no payload");
  return {};
}

}  // namespace

Result<Bytes> handlePlatformInfo(OpContext& ctx, ByteView payload) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  const auto& p = ctx.token.platform();
  wire::PlatformInfoResponse r{std::string(suite::kSuiteId), p.service_point, p.ca_cert, p.receipt_cert};
  return wire::encodeMessage(r);
}

Result<Bytes> handleHealth(OpContext& ctx, ByteView payload) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  // A real round trip to the token, so "healthy" means the token answers now.
  auto probe = ctx.token.call<Secret>([](hsm::Lane& lane) { return lane.random(1); });
  (void)probe;
  return wire::encodeMessage(wire::HealthResponse{static_cast<std::uint8_t>(ctx.token.health())});
}

Result<Bytes> handleAuditHead(OpContext& ctx, ByteView payload) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  MPAY_ASSIGN_OR_RETURN(AuditHead head, readAuditHead(ctx.audit_path));
  return wire::encodeMessage(wire::AuditHeadResponse{head.seq, head.hash});
}

}  // namespace mpay::signer
