// The gateway's side of the signer socket: one connection, typed calls.
// Names mirror the signer's handlers (openLogin <-> handleOpenLogin). A
// non-zero status comes back as an Error with that code; a connection that
// breaks is kIo and the client must be reconnected.
#pragma once
#include <atomic>
#include <string>

#include "common/signer_protocol.h"

namespace mpay::gateway {

class SignerClient {
 public:
  static Result<SignerClient> connect(const std::string& socket_path, int timeout_ms = 30000);
  SignerClient(SignerClient&& other) noexcept;
  SignerClient& operator=(SignerClient&&) = delete;
  ~SignerClient();

  Result<wire::PlatformInfoResponse> platformInfo();
  Result<wire::HealthResponse> health();
  Result<wire::AuditHeadResponse> auditHead();
  Result<wire::AuditTailResponse> auditTail();
  Status recordStart(const std::string& process, const std::string& policy_sha256);
  // Admin role: the audit record of one key rotation step (mpay-admin rotate).
  Status recordRotation(const std::string& step);

  // True when the signer has closed this connection (or it broke) while it
  // sat idle: it is readable with nothing owed, or it reports an error. A
  // pooled connection is checked before each use.
  bool closedByPeer() const;
  Result<wire::OpenRegistrationResponse> openRegistration(const wire::OpenRegistrationRequest& request);
  Result<wire::OpenLoginResponse> openLogin(const wire::OpenLoginRequest& request);
  Result<wire::OpenPaymentResponse> openPayment(const wire::OpenPaymentRequest& request);
  Result<wire::SignReceiptResponse> signReceipt(const wire::SignReceiptRequest& request);
  Result<wire::RewrapIdentityResponse> rewrapIdentity(const wire::RewrapIdentityRequest& request);

  // Sends raw bytes and reads one response frame (its body). For tests of
  // malformed input; production code uses the typed calls.
  Result<Bytes> exchangeRaw(ByteView bytes);

 private:
  explicit SignerClient(int fd) : fd_(fd) {}
  Result<Bytes> call(wire::OpId op, ByteView payload);
  template <typename Resp, typename Req>
  Result<Resp> typed(wire::OpId op, const Req& request) {
    MPAY_ASSIGN_OR_RETURN(Bytes payload, call(op, wire::encodeMessage(request)));
    return wire::parseMessage<Resp>(payload);
  }
  int fd_;
  std::uint32_t next_request_ = 1;
};

}  // namespace mpay::gateway
