#include "gateway/signer_client.h"

#include <poll.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/frame_io.h"

namespace mpay::gateway {
namespace {
constexpr std::uint32_t kMaxResponse = 1 << 20;
}  // namespace

Result<SignerClient> SignerClient::connect(const std::string& socket_path, int timeout_ms) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) return fail(ErrorCode::kConfig, "socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::kIo, "socket() failed");
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return fail(ErrorCode::kIo, "cannot connect to signer at " + socket_path);
  }
  return SignerClient(fd);
}

SignerClient::SignerClient(SignerClient&& other) noexcept : fd_(other.fd_), next_request_(other.next_request_) {
  other.fd_ = -1;
}

SignerClient::~SignerClient() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Bytes> SignerClient::exchangeRaw(ByteView bytes) {
  MPAY_RETURN_IF_ERROR(writeAll(fd_, bytes));
  return readFrame(fd_, kMaxResponse);
}

bool SignerClient::closedByPeer() const {
  // Between calls the signer owes nothing: anything readable is its close.
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  return fd_ < 0 || ::poll(&p, 1, 0) != 0;
}

Result<Bytes> SignerClient::call(wire::OpId op, ByteView payload) {
  const std::uint32_t id = next_request_++;
  MPAY_ASSIGN_OR_RETURN(Bytes body, exchangeRaw(wire::encodeRequest(op, id, payload)));
  ByteReader r(body);
  std::uint8_t version = 0;
  std::uint16_t status = 0;
  std::uint32_t got_id = 0;
  if (!r.u8(&version) || !r.u16(&status) || !r.u32(&got_id) || version != wire::kVersion)
    return fail(ErrorCode::kIo, "malformed response from signer");
  if (status != 0) return fail(static_cast<ErrorCode>(status), "signer refused");
  if (got_id != id) return fail(ErrorCode::kIo, "response for another request");
  return Bytes(body.begin() + wire::kHeaderLen, body.end());
}

Result<wire::PlatformInfoResponse> SignerClient::platformInfo() {
  return typed<wire::PlatformInfoResponse>(wire::OpId::kPlatformInfo, wire::Empty{});
}
Result<wire::HealthResponse> SignerClient::health() {
  return typed<wire::HealthResponse>(wire::OpId::kHealth, wire::Empty{});
}
Result<wire::AuditHeadResponse> SignerClient::auditHead() {
  return typed<wire::AuditHeadResponse>(wire::OpId::kAuditHead, wire::Empty{});
}
Result<wire::AuditTailResponse> SignerClient::auditTail() {
  return typed<wire::AuditTailResponse>(wire::OpId::kAuditTail, wire::Empty{});
}
Status SignerClient::recordStart(const std::string& process, const std::string& policy_sha256) {
  auto answer = typed<wire::Empty>(wire::OpId::kRecordStart, wire::RecordStartRequest{process, policy_sha256});
  if (!answer) return std::move(answer).error();
  return {};
}
Status SignerClient::recordRotation(const std::string& step) {
  auto answer = typed<wire::Empty>(wire::OpId::kRecordRotation, wire::RecordRotationRequest{step});
  if (!answer) return std::move(answer).error();
  return {};
}
Result<wire::OpenRegistrationResponse> SignerClient::openRegistration(const wire::OpenRegistrationRequest& request) {
  return typed<wire::OpenRegistrationResponse>(wire::OpId::kOpenRegistration, request);
}
Result<wire::OpenLoginResponse> SignerClient::openLogin(const wire::OpenLoginRequest& request) {
  return typed<wire::OpenLoginResponse>(wire::OpId::kOpenLogin, request);
}
Result<wire::OpenPaymentResponse> SignerClient::openPayment(const wire::OpenPaymentRequest& request) {
  return typed<wire::OpenPaymentResponse>(wire::OpId::kOpenPayment, request);
}
Result<wire::RewrapIdentityResponse> SignerClient::rewrapIdentity(const wire::RewrapIdentityRequest& request) {
  return typed<wire::RewrapIdentityResponse>(wire::OpId::kRewrapIdentity, request);
}
Result<wire::SignReceiptResponse> SignerClient::signReceipt(const wire::SignReceiptRequest& request) {
  return typed<wire::SignReceiptResponse>(wire::OpId::kSignReceipt, request);
}

}  // namespace mpay::gateway
