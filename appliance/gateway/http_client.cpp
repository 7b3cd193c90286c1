#include "gateway/http_client.h"

#include <openssl/x509v3.h>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/X509Certificate.h>

namespace mpay::gateway {
namespace {

std::mutex tls_mutex;
Poco::Net::Context::Ptr tls_context;  // guarded by tls_mutex

Result<Poco::Net::Context::Ptr> makeOutboundTls(const std::string& ca_file) {
  try {
    // VERIFY_STRICT: the peer must present a certificate, and its chain must
    // verify against ca_file alone when one is given (else the system's store).
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file, Poco::Net::Context::VERIFY_STRICT, 9, ca_file.empty(),
        "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL");
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    // Poco 1.11 matches an IP-address host by resolving the certificate's DNS
    // names; VerifiedHttpsSession checks the name with OpenSSL instead.
    context->enableExtendedCertificateVerification(false);
    // Poco's default for a certificate that fails is to ask on the console;
    // a daemon refuses it.
    Poco::Net::SSLManager::instance().initializeClient(nullptr, new Poco::Net::RejectCertificateHandler(false), context);
    return context;
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "outbound TLS (CA file '" + ca_file + "'): " + e.displayText());
  }
}

bool certificateNames(const X509* certificate, const std::string& host) {
  auto* cert = const_cast<X509*>(certificate);
  Poco::Net::IPAddress ip;
  if (Poco::Net::IPAddress::tryParse(host, ip)) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  return X509_check_host(cert, host.data(), host.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

// The peer's chain is verified in the handshake (VERIFY_STRICT); its name
// right after, before a byte of the request is sent.
class VerifiedHttpsSession : public Poco::Net::HTTPSClientSession {
 public:
  using HTTPSClientSession::HTTPSClientSession;

 protected:
  void connect(const Poco::Net::SocketAddress& address) override {
    HTTPSClientSession::connect(address);
    Poco::Net::SecureStreamSocket secure(socket());
    secure.completeHandshake();
    if (!certificateNames(secure.peerCertificate().certificate(), getHost()))
      throw Poco::Net::CertificateValidationException("the peer's certificate does not name " + getHost());
  }
};

Poco::Net::Context::Ptr outboundTls() {
  std::lock_guard lock(tls_mutex);
  if (!tls_context) {
    auto made = makeOutboundTls("");
    if (!made) throw Poco::Net::SSLException(made.error().detail);
    tls_context = made.value();
  }
  return tls_context;
}

}  // namespace

Status configureOutboundTls(const std::string& ca_file) {
  MPAY_ASSIGN_OR_RETURN(Poco::Net::Context::Ptr context, makeOutboundTls(ca_file));
  std::lock_guard lock(tls_mutex);
  tls_context = context;
  return {};
}

std::unique_ptr<Poco::Net::HTTPClientSession> clientSession(const Poco::URI& uri, int timeout_ms) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (uri.getScheme() == "https")
    session = std::make_unique<VerifiedHttpsSession>(uri.getHost(), uri.getPort(), outboundTls());
  else session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  session->setTimeout(Poco::Timespan(static_cast<long>(timeout_ms) * 1000));
  return session;
}

std::optional<std::string> readAtMost(std::istream& in, std::size_t limit) {
  std::string body(limit + 1, '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > limit) return std::nullopt;
  body.resize(got);
  return body;
}

std::unique_ptr<Poco::Net::HTTPClientSession> ClientSessionPool::take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return session;
    }
  }
  auto session = clientSession(uri_, timeout_ms_);
  session->setKeepAlive(true);
  session->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(idle_ms_) * 1000));
  return session;
}

void ClientSessionPool::giveBack(std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(session));
}

}  // namespace mpay::gateway
