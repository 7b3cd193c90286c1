#include "bench/floor.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "admin/dev_setup.h"
#include "bench/phase.h"
#include "bench/phones.h"
#include "client/phone.h"
#include "common/config.h"
#include "hsm/key_policy.h"
#include "hsm/token.h"
#include "bench/signer_side.h"
#include "signer/operations.h"
#include "signer/signer_state.h"
#include "suite/acquirer_answer.h"
#include "suite/primitives.h"

namespace mpay::bench {
namespace {

// A phone as the floor keeps it: the phone's key and session, and the row
// the gateway would keep for it.
struct FloorPhone {
  std::string number;
  std::optional<suite::EcPrivateKey> key;
  wire::OpenRegistrationResponse user;
  std::optional<suite::LoginKeys> keys;
  Bytes wrapped_keys;
  std::uint64_t counter = 0;
};

class Floor {
 public:
  Floor(SignerSide& signer, const suite::EcPublicKey& service, const suite::EcPrivateKey& acquirer)
      : signer_(signer), service_(service), acquirer_(acquirer) {}

  Status enrol(FloorPhone& p, int t) {
    suite::Info1 info{p.number, "356938035643809", "89860012345678901234", Secret::copyOf(std::string(kPassword)),
                      Secret::copyOf(std::string(kPin)), "mpay-bench", "110101199003070000"};
    MPAY_ASSIGN_OR_RETURN(Bytes sealed, client::sealInfo1(service_, info, client::systemRandom()));
    MPAY_ASSIGN_OR_RETURN(p.user, signer_.openRegistration(t, wire::OpenRegistrationRequest{sealed}));
    const Secret info3 = suite::info3Password(p.number, info.imei, info.sim, Secret::copyOf(std::string(kPassword)));
    MPAY_ASSIGN_OR_RETURN(auto credential, client::activate(p.user.registration_file, p.user.registration_code,
                                                            p.user.confirmation_code, info3));
    p.key.emplace(std::move(credential.opened.private_key));
    return {};
  }

  Status login(FloorPhone& p, int t) {
    const Bytes nonce = suite::randomBytes(suite::kNonceLen);
    MPAY_ASSIGN_OR_RETURN(auto message, client::buildLogin(service_, *p.key, p.number,
                                                           Secret::copyOf(std::string(kPassword)), unixNow(), nonce,
                                                           client::systemRandom()));
    wire::OpenLoginRequest req{p.user.certificate, p.user.salt, p.user.password_verifier, message.c1, message.c2, 0};
    MPAY_ASSIGN_OR_RETURN(auto answer, signer_.openLogin(t, req));
    MPAY_ASSIGN_OR_RETURN(auto keys, client::openLoginKeys(*p.key, answer.sealed_keys, message.k));
    p.keys.emplace(std::move(keys));
    p.wrapped_keys = answer.wrapped_keys;
    return {};
  }

  Status pay(FloorPhone& p, int t, const std::string& order_no, std::uint64_t n) {
    client::PaymentInput in{order_no, p.number, 100 + n % 9900, "CNY", "mpay-bench " + order_no, false, ++p.counter,
                            unixNow()};
    MPAY_ASSIGN_OR_RETURN(auto message, client::buildPayment(in, Secret::copyOf(std::string(kPin)), *p.keys, *p.key,
                                                             client::systemRandom()));
    const auto& f = message.signed_fields;
    wire::OpenPaymentRequest req;
    req.certificate = p.user.certificate;
    req.salt = p.user.salt;
    req.pin_verifier = p.user.pin_verifier;
    req.wrapped_keys = p.wrapped_keys;
    req.session_id = f.session_id;
    req.order_no = f.order_no;
    req.phone = f.phone;
    req.amount_minor = f.amount_minor;
    req.currency = f.currency;
    req.content = f.content;
    req.pin_ciphertext = f.pin_ciphertext;
    req.counter = f.counter;
    req.timestamp = f.timestamp;
    req.signature = message.signature;
    MPAY_ASSIGN_OR_RETURN(auto opened, signer_.openPayment(t, req));
    // The acquirer's part: its signed answer.
    const suite::AcquirerAnswer answer{order_no,          opened.phone, opened.amount_minor, opened.currency,
                                       suite::PaymentResult::kApproved, "FLOOR-" + order_no, unixNow()};
    MPAY_ASSIGN_OR_RETURN(Bytes signature, acquirer_.signDer(suite::acquirerAnswerBytes(answer)));
    wire::SignReceiptRequest receipt_req{opened.permit,       answer.transaction_no, 1, order_no, opened.phone,
                                         opened.amount_minor, opened.currency,       answer.time, signature};
    MPAY_ASSIGN_OR_RETURN(auto receipt, signer_.signReceipt(t, receipt_req));
    const auto& platform = signer_.platform();
    // As a phone that trusts the current CA: the receipt key in service has
    // a certificate from it (docs/protocol.md §7.1).
    MPAY_ASSIGN_OR_RETURN(auto checked,
                          client::verifyReceiptByAny(receipt.receipt, receipt.signature, platform.receipt_certs,
                                                     ca::CaTrust{{platform.ca_cert}, platform.ca_cross_certs}));
    if (checked.order_no != order_no || checked.amount_minor != in.amount_minor)
      return fail(ErrorCode::kMismatch, "receipt does not match the payment");
    return {};
  }

 private:
  SignerSide& signer_;
  const suite::EcPublicKey& service_;
  const suite::EcPrivateKey& acquirer_;
};

std::string failureName(const Status& status) { return status.ok() ? "" : std::string(errorName(status.error().code)); }

// A directory of its own for the throwaway token, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mpay-floor-XXXXXX").string();
    if (mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Enrols `o.phones` phones through `side`, then logs them in and pays for
// `o.seconds` each; the phases are named "<step> <label>".
bool runPhoneWork(SignerSide& side, const std::string& label, const LoadOptions& o, const suite::EcPrivateKey& acquirer,
                  const std::function<void(const PhaseReport&)>& done) {
  auto service = suite::EcPublicKey::fromPoint(side.platform().service_point);
  if (!service) return false;
  Floor floor(side, service.value(), acquirer);
  const std::string run = newRunTag();
  std::vector<FloorPhone> phones;
  for (auto& p : newPhones(static_cast<std::size_t>(o.phones), run)) {
    phones.emplace_back();
    phones.back().number = p.number;
  }
  done(runPhase("enrol " + label, o.threads, phones, 0,
                [&](FloorPhone& p, int t, std::uint64_t) { return failureName(floor.enrol(p, t)); }));
  std::erase_if(phones, [](const FloorPhone& p) { return !p.key; });
  done(runPhase("login " + label, o.threads, phones, o.seconds,
                [&](FloorPhone& p, int t, std::uint64_t) { return failureName(floor.login(p, t)); }));
  std::erase_if(phones, [](const FloorPhone& p) { return !p.keys; });
  done(runPhase("pay " + label, o.threads, phones, o.seconds, [&](FloorPhone& p, int t, std::uint64_t n) {
    const std::string order = label + "-" + run + "-" + std::to_string(t) + "-" + std::to_string(n);
    return failureName(floor.pay(p, t, order, n));
  }));
  return true;
}

}  // namespace

bool runFloor(const LoadOptions& o, const std::function<void(const PhaseReport&)>& done) {
  ScratchDir dir;
  if (dir.path().empty()) return false;
  admin::DevSetupOptions setup;
  setup.dir = dir.path();
  auto config_path = admin::devSetup(setup);
  if (!config_path) return false;
  auto config = Config::load(config_path.value());
  if (!config) return false;
  auto policy = hsm::KeyPolicy::load(config->policy_dir + "/keys");
  if (!policy) return false;
  auto token = hsm::Token::open(config->hsm, policy.value(), o.threads);
  if (!token) return false;
  // The signer's own state and the acquirer's key pair, as the signer has them (no audit log: no sync).
  auto limits = signer::SignerLimits::load(config->policy_dir + "/signer.limits");
  if (!limits) return false;
  auto state = signer::SignerState::open(config->signer.state_file, limits.value());
  auto acquirer = suite::loadAcquirerKey(config->acquirer_sim.signing_key);
  auto acquirer_certificate = suite::loadAcquirerCertificate(config->signer.acquirer_certificate);
  if (!state || !acquirer || !acquirer_certificate) return false;
  signer::OpContext ctx{*token.value(), unixNow, config->signer.pkcs12_iterations, ""};
  ctx.prepared = std::make_shared<signer::PreparedPlatform>(token.value()->platform());
  ctx.state = state.value().get();
  ctx.acquirer_key = std::make_shared<const suite::EcPublicKey>(std::move(acquirer_certificate).value());
  InProcessSigner side(ctx);
  return runPhoneWork(side, "floor", o, acquirer.value(), done);
}

bool runSignerSocket(const LoadOptions& o, const std::string& socket_path, const std::string& acquirer_key_path,
                     const std::function<void(const PhaseReport&)>& done) {
  auto acquirer = suite::loadAcquirerKey(acquirer_key_path);
  if (!acquirer) return false;
  auto side = SocketSigner::connect(socket_path, o.threads);
  return side.ok() && runPhoneWork(*side.value(), "signer", o, acquirer.value(), done);
}

}  // namespace mpay::bench
