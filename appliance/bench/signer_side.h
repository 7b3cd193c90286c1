// The signer as the bench's floor and --signer runs reach it: the four
// operations a payment and a login need, either as the signer's handlers
// called in this process on a token of the bench's own, or through the
// appliance's signer socket with the gateway's role. The same phone work on
// both sides is what makes their rates comparable.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/signer_protocol.h"
#include "gateway/signer_client.h"
#include "hsm/token.h"
#include "signer/operations.h"

namespace mpay::bench {

class SignerSide {
 public:
  virtual ~SignerSide() = default;
  // `thread` is the calling phase thread (0..threads-1); a side may keep
  // one connection a thread.
  virtual Result<wire::OpenRegistrationResponse> openRegistration(int thread, const wire::OpenRegistrationRequest& r) = 0;
  virtual Result<wire::OpenLoginResponse> openLogin(int thread, const wire::OpenLoginRequest& r) = 0;
  virtual Result<wire::OpenPaymentResponse> openPayment(int thread, const wire::OpenPaymentRequest& r) = 0;
  virtual Result<wire::SignReceiptResponse> signReceipt(int thread, const wire::SignReceiptRequest& r) = 0;
  virtual const hsm::PlatformInfo& platform() const = 0;
};

// The signer's handlers on `ctx` (its token, its prepared platform keys).
class InProcessSigner : public SignerSide {
 public:
  explicit InProcessSigner(signer::OpContext& ctx) : ctx_(ctx) {}
  Result<wire::OpenRegistrationResponse> openRegistration(int, const wire::OpenRegistrationRequest& r) override;
  Result<wire::OpenLoginResponse> openLogin(int, const wire::OpenLoginRequest& r) override;
  Result<wire::OpenPaymentResponse> openPayment(int, const wire::OpenPaymentRequest& r) override;
  Result<wire::SignReceiptResponse> signReceipt(int, const wire::SignReceiptRequest& r) override;
  const hsm::PlatformInfo& platform() const override { return *ctx_.token.platform(); }

 private:
  signer::OpContext& ctx_;
};

// The appliance's signer socket, one connection a thread, opened as the
// thread first calls. The caller needs the gateway role: the signer's own
// uid in single-user development mode, gateway.user's when separated.
class SocketSigner : public SignerSide {
 public:
  static Result<std::unique_ptr<SocketSigner>> connect(const std::string& socket_path, int threads);
  Result<wire::OpenRegistrationResponse> openRegistration(int t, const wire::OpenRegistrationRequest& r) override;
  Result<wire::OpenLoginResponse> openLogin(int t, const wire::OpenLoginRequest& r) override;
  Result<wire::OpenPaymentResponse> openPayment(int t, const wire::OpenPaymentRequest& r) override;
  Result<wire::SignReceiptResponse> signReceipt(int t, const wire::SignReceiptRequest& r) override;
  const hsm::PlatformInfo& platform() const override { return platform_; }

 private:
  SocketSigner(std::string path, int threads) : path_(std::move(path)), clients_(static_cast<std::size_t>(threads)) {}
  Result<gateway::SignerClient*> client(int thread);
  template <typename Resp, typename Call>
  Result<Resp> retried(int thread, Call call);
  std::string path_;
  std::vector<std::optional<gateway::SignerClient>> clients_;
  hsm::PlatformInfo platform_;
};

}  // namespace mpay::bench
