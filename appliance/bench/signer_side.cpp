#include "bench/signer_side.h"

namespace mpay::bench {
namespace {

template <typename Resp, typename Req>
Result<Resp> call(signer::Handler handler, signer::OpContext& ctx, const Req& request) {
  std::string change;  // no audit log here to make it durable: the floor measures the cryptography
  MPAY_ASSIGN_OR_RETURN(Bytes answer, handler(ctx, wire::encodeMessage(request), &change));
  return wire::parseMessage<Resp>(answer);
}

}  // namespace

Result<wire::OpenRegistrationResponse> InProcessSigner::openRegistration(int, const wire::OpenRegistrationRequest& r) {
  return call<wire::OpenRegistrationResponse>(signer::handleOpenRegistration, ctx_, r);
}
Result<wire::OpenLoginResponse> InProcessSigner::openLogin(int, const wire::OpenLoginRequest& r) {
  return call<wire::OpenLoginResponse>(signer::handleOpenLogin, ctx_, r);
}
Result<wire::OpenPaymentResponse> InProcessSigner::openPayment(int, const wire::OpenPaymentRequest& r) {
  return call<wire::OpenPaymentResponse>(signer::handleOpenPayment, ctx_, r);
}
Result<wire::SignReceiptResponse> InProcessSigner::signReceipt(int, const wire::SignReceiptRequest& r) {
  return call<wire::SignReceiptResponse>(signer::handleSignReceipt, ctx_, r);
}

Result<std::unique_ptr<SocketSigner>> SocketSigner::connect(const std::string& socket_path, int threads) {
  std::unique_ptr<SocketSigner> side(new SocketSigner(socket_path, threads));
  MPAY_ASSIGN_OR_RETURN(auto* first, side->client(0));
  MPAY_ASSIGN_OR_RETURN(auto info, first->platformInfo());
  side->platform_.service_point = info.service_point;
  side->platform_.ca_cert = info.ca_cert;
  side->platform_.receipt_cert = info.receipt_cert;
  MPAY_ASSIGN_OR_RETURN(side->platform_.receipt_certs, wire::decodeCertificateList(info.receipt_certificates));
  MPAY_ASSIGN_OR_RETURN(side->platform_.ca_cross_certs, wire::decodeCertificateList(info.ca_cross_certificates));
  return side;
}

Result<gateway::SignerClient*> SocketSigner::client(int thread) {
  auto& slot = clients_.at(static_cast<std::size_t>(thread));
  if (!slot) {
    MPAY_ASSIGN_OR_RETURN(auto opened, gateway::SignerClient::connect(path_));
    slot.emplace(std::move(opened));
  }
  return &*slot;
}

// A connection the signer closed while it sat idle between phases is
// opened again once.
template <typename Resp, typename Call>
Result<Resp> SocketSigner::retried(int thread, Call call) {
  for (int attempt = 0;; ++attempt) {
    MPAY_ASSIGN_OR_RETURN(auto* c, client(thread));
    Result<Resp> r = call(*c);
    if (r.ok() || r.error().code != ErrorCode::kIo || attempt == 1) return r;
    clients_.at(static_cast<std::size_t>(thread)).reset();
  }
}

Result<wire::OpenRegistrationResponse> SocketSigner::openRegistration(int t, const wire::OpenRegistrationRequest& r) {
  return retried<wire::OpenRegistrationResponse>(t, [&](gateway::SignerClient& c) { return c.openRegistration(r); });
}
Result<wire::OpenLoginResponse> SocketSigner::openLogin(int t, const wire::OpenLoginRequest& r) {
  return retried<wire::OpenLoginResponse>(t, [&](gateway::SignerClient& c) { return c.openLogin(r); });
}
Result<wire::OpenPaymentResponse> SocketSigner::openPayment(int t, const wire::OpenPaymentRequest& r) {
  return retried<wire::OpenPaymentResponse>(t, [&](gateway::SignerClient& c) { return c.openPayment(r); });
}
Result<wire::SignReceiptResponse> SocketSigner::signReceipt(int t, const wire::SignReceiptRequest& r) {
  return retried<wire::SignReceiptResponse>(t, [&](gateway::SignerClient& c) { return c.signReceipt(r); });
}

}  // namespace mpay::bench
