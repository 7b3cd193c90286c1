// Operations on public data only: no secret is touched here.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <vector>

#include "common/audit_log.h"
#ifdef MPAY_TEST_HOOKS
#include "sandbox/probes.h"
#endif
#include "signer/operations.h"
#include "suite/messages.h"

namespace mpay::signer {
namespace {

Status expectEmpty(ByteView payload) {
  if (!payload.empty()) return fail(ErrorCode::kBadFrame, "this operation takes no payload");
  return {};
}

}  // namespace

Result<Bytes> handlePlatformInfo(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  const auto platform = ctx.token.platform();
  const hsm::PlatformInfo& p = *platform;
  wire::PlatformInfoResponse r{std::string(suite::kSuiteId), p.service_point, p.ca_cert, p.receipt_cert,
                               p.service_generation, {}, 0, 0, p.service_endorsement, p.receipt_generation,
                               wire::encodeCertificateList(p.receipt_certs), p.verifier_generation,
                               p.kek_generation, p.ca_generation,
                               wire::encodeCertificateList(p.ca_cross_certs)};
  // Right after a CA switch, the previous CA (hsm::PlatformInfo): only
  // with its own signature over a rotated service key.
  if (!p.previous_ca_cert.empty() && ctx.now() < p.previous_ca_until &&
      (p.service_generation == 1 || !p.previous_ca_service_endorsement.empty())) {
    r.ca_cert = p.previous_ca_cert;
    r.ca_generation = p.previous_ca_generation;
    r.service_endorsement = p.previous_ca_service_endorsement;
  }
  // The previous generation only while the signer still opens with it.
  if (!p.previous_service_point.empty() && ctx.now() < p.previous_service_until) {
    r.previous_service_point = p.previous_service_point;
    r.previous_service_generation = p.previous_service_generation;
    r.previous_service_until = p.previous_service_until;
  }
  return wire::encodeMessage(r);
}

Result<Bytes> handleHealth(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  // A real round trip to the token, so "healthy" means the token answers now.
  auto probe = ctx.token.call<Secret>([](hsm::Lane& lane) { return lane.random(1); });
  (void)probe;
  return wire::encodeMessage(wire::HealthResponse{static_cast<std::uint8_t>(ctx.token.health())});
}

Result<Bytes> handleAuditHead(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  MPAY_ASSIGN_OR_RETURN(AuditHead head, readAuditHead(ctx.audit_path));
  return wire::encodeMessage(wire::AuditHeadResponse{head.seq, head.hash});
}

Result<Bytes> handleAuditTail(OpContext& ctx, ByteView payload, std::string*) {
  MPAY_RETURN_IF_ERROR(expectEmpty(payload));
  MPAY_ASSIGN_OR_RETURN(std::string records, readAuditTail(ctx.audit_path, wire::kMaxAuditTail));
  std::vector<std::string> shown;
  std::istringstream lines(records);
  for (std::string line; std::getline(lines, line);) {
    // A record that does not parse (an edit, a corruption) is shown as such:
    // that is when the operator most needs to see the rest.
    auto summary = auditSummary(line);
    shown.push_back((summary ? summary.value() : std::string(R"json({"seq":0,"op":"(unreadable record)"})json")) + "\n");
  }
  std::size_t total = 0, first = shown.size();
  while (first > 0 && total + shown[first - 1].size() <= wire::kMaxAuditTailBytes) total += shown[--first].size();
  Bytes out;
  for (std::size_t i = first; i < shown.size(); ++i) out.insert(out.end(), shown[i].begin(), shown[i].end());
  return wire::encodeMessage(wire::AuditTailResponse{std::move(out)});
}

Result<Bytes> handleRecordStart(OpContext&, ByteView payload, std::string*) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::RecordStartRequest>(payload));
  const auto lowerName = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") == std::string::npos;
  };
  if (!lowerName(req.process)) return fail(ErrorCode::kBadField, "process name");
  if (req.policy_sha256.size() != 64 || req.policy_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    return fail(ErrorCode::kBadField, "policy digest");
  // Only validated text reaches the audit log.
  const std::string note = req.process + " started, policy sha256=" + req.policy_sha256;
  return Bytes(note.begin(), note.end());
}

Result<Bytes> handleRecordRotation(OpContext&, ByteView payload, std::string*) {
  MPAY_ASSIGN_OR_RETURN(auto req, wire::parseMessage<wire::RecordRotationRequest>(payload));
  // "<key> <step> ...": only validated text reaches the audit log.
  static constexpr std::string_view kKeys[] = {"service ", "receipt ", "verifier ", "kek ", "ca "};
  static constexpr std::string_view kSteps[] = {"begin ", "switch ", "retire "};
  const auto startsWithOneOf = [](std::string_view text, auto& choices) -> std::size_t {
    for (std::string_view c : choices)
      if (text.substr(0, c.size()) == c) return c.size();
    return 0;
  };
  std::string_view rest = req.step;
  const std::size_t key = startsWithOneOf(rest, kKeys);
  const std::size_t step = key ? startsWithOneOf(rest.substr(key), kSteps) : 0;
  if (!key || !step || req.step.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_= ") != std::string::npos)
    return fail(ErrorCode::kBadField, "rotation step");
  return Bytes(req.step.begin(), req.step.end());
}

#ifdef MPAY_TEST_HOOKS
// Payload: u8 kind, then a field for kinds 2 and 5.
//   1: a system call outside policy/signer.syscalls (the worker dies)
//   2: open the named file; answers its errno (u8)
//   3: sandbox::selfReport(): u8 thread started, u8 clone3's errno, u32 pid
//   4: fork (the worker dies)
//   5: connect an AF_UNIX socket to the named path ('@': abstract); answers its errno (u8)
Result<Bytes> handleTestProbe(OpContext&, ByteView payload, std::string*) {
  ByteReader r(payload);
  std::uint8_t kind = 0;
  if (!r.u8(&kind)) return fail(ErrorCode::kBadFrame, "probe kind");
  if (kind == 1) {
    ::syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);  // seccomp kills the worker here
    return Bytes{0};
  }
  if (kind == 3) {
    const sandbox::SelfReport report = sandbox::selfReport();
    ByteWriter w;
    w.u8(report.thread_started ? 1 : 0).u8(static_cast<std::uint8_t>(report.clone3_errno));
    w.u32(static_cast<std::uint32_t>(report.pid));
    return w.take();
  }
  if (kind == 4) {
    sandbox::tryFork();  // seccomp kills the worker here
    return Bytes{0};
  }
  std::string path;
  if (!r.text(&path, 4096) || !r.empty()) return fail(ErrorCode::kBadFrame, "probe path");
  if (kind == 5) return Bytes{static_cast<std::uint8_t>(sandbox::tryConnectUnix(path))};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const int err = fd < 0 ? errno : 0;
  if (fd >= 0) ::close(fd);
  return Bytes{static_cast<std::uint8_t>(err)};
}
#endif

}  // namespace mpay::signer
