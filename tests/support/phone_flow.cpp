#include "support/phone_flow.h"

#include <ctime>
#include <stdexcept>

#include "suite/primitives.h"

namespace mpay::test {

std::uint64_t nowSeconds() { return static_cast<std::uint64_t>(std::time(nullptr)); }

PhoneFlow::PhoneFlow(gateway::SignerClient& signer, PhoneProfile profile)
    : signer_(signer), profile_(std::move(profile)) {
  auto info = signer_.platformInfo();
  if (!info) throw std::runtime_error("platform_info: " + std::string(errorName(info.error().code)));
  platform_ = info.value();
  auto key = suite::EcPublicKey::fromPoint(platform_.service_point);
  if (!key) throw std::runtime_error("service key");
  service_ = key.value();
}

Secret PhoneFlow::info3() const {
  return suite::info3Password(profile_.phone, profile_.imei, profile_.sim, Secret::copyOf(profile_.password));
}

Result<wire::OpenRegistrationResponse> PhoneFlow::registerPhone() {
  suite::Info1 info{profile_.phone, profile_.imei, profile_.sim, Secret::copyOf(profile_.password),
                    Secret::copyOf(profile_.pin), profile_.name, profile_.id_number};
  MPAY_ASSIGN_OR_RETURN(Bytes sealed, client::sealInfo1(*service_, info, client::systemRandom()));
  MPAY_ASSIGN_OR_RETURN(auto r, signer_.openRegistration({sealed}));
  user_ = UserRecord{r.certificate, r.salt, r.password_verifier, r.pin_verifier, r.identity};
  return r;
}

Status PhoneFlow::activate(const wire::OpenRegistrationResponse& registration) {
  MPAY_ASSIGN_OR_RETURN(auto credential, client::activate(registration.registration_file, registration.registration_code,
                                                          registration.confirmation_code, info3()));
  credential_.emplace(std::move(credential));
  return {};
}

Status PhoneFlow::enroll() {
  MPAY_ASSIGN_OR_RETURN(auto registration, registerPhone());
  return activate(registration);
}

Result<wire::OpenLoginResponse> PhoneFlow::login(std::optional<std::string> password) {
  Secret pw = Secret::copyOf(password.value_or(profile_.password));
  Bytes nonce = suite::randomBytes(suite::kNonceLen);
  MPAY_ASSIGN_OR_RETURN(auto message, client::buildLogin(*service_, userKey(), profile_.phone, pw, nowSeconds(), nonce,
                                                         client::systemRandom()));
  wire::OpenLoginRequest req{user_.certificate, user_.salt, user_.password_verifier, message.c1, message.c2, 0};
  MPAY_ASSIGN_OR_RETURN(auto r, signer_.openLogin(req));
  MPAY_ASSIGN_OR_RETURN(auto keys, client::openLoginKeys(userKey(), r.sealed_keys, message.k));
  keys_.emplace(std::move(keys));
  wrapped_keys_ = r.wrapped_keys;
  return r;
}

wire::OpenLoginRequest PhoneFlow::loginRequest(const std::string& password) const {
  auto message = client::buildLogin(*service_, userKey(), profile_.phone, Secret::copyOf(password), nowSeconds(),
                                    suite::randomBytes(suite::kNonceLen), client::systemRandom());
  if (!message) throw std::runtime_error("buildLogin: " + message.error().detail);
  return wire::OpenLoginRequest{user_.certificate, user_.salt, user_.password_verifier, message->c1, message->c2, 0};
}

client::PaymentInput PhoneFlow::defaultPayment(const std::string& order_no, bool critical) const {
  return client::PaymentInput{order_no, profile_.phone, 1234, "CNY", "coffee and cake", critical, 0, nowSeconds()};
}

wire::OpenPaymentRequest PhoneFlow::paymentRequest(const client::PaymentInput& input, const std::string& pin) {
  client::PaymentInput in = input;
  in.counter = ++counter_;
  auto message = client::buildPayment(in, Secret::copyOf(pin), *keys_, userKey(), client::systemRandom());
  if (!message) throw std::runtime_error("buildPayment: " + message.error().detail);
  const auto& f = message->signed_fields;
  wire::OpenPaymentRequest req;
  req.certificate = user_.certificate;
  req.salt = user_.salt;
  req.pin_verifier = user_.pin_verifier;
  req.wrapped_keys = wrapped_keys_;
  req.session_id = f.session_id;
  req.order_no = f.order_no;
  req.phone = f.phone;
  req.amount_minor = f.amount_minor;
  req.currency = f.currency;
  req.critical = input.critical ? 1 : 0;
  if (input.critical) {
    req.critical_ciphertext = message->critical_ciphertext;
  } else {
    req.content = f.content;
    req.pin_ciphertext = f.pin_ciphertext;
  }
  req.counter = f.counter;
  req.timestamp = f.timestamp;
  req.signature = message->signature;
  return req;
}

}  // namespace mpay::test
