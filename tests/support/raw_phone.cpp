#include "support/raw_phone.h"

#include <Poco/JSON/Object.h>

#include <ctime>

#include "client/flows.h"
#include "gateway/json_fields.h"
#include "suite/primitives.h"

namespace mpay::test {

RawPhone::RawPhone(const RunningAppliance& app, const std::string& device) : state_(app.dev().dir() + "/" + device) {
  id_ = state_.identity().value();
  platform_ = state_.platform().value();
  credential_.emplace(suite::openCertificateFile(
                          state_.certificateFile().value(),
                          suite::info3Password(id_.phone, id_.imei, id_.sim, Secret::copyOf(std::string(kPassword))))
                          .value());
  if (auto session = state_.session(); session.ok()) session_.emplace(std::move(session).value());
}

std::string RawPhone::payBody(const std::string& order, std::uint64_t counter, std::uint64_t amount,
                              const std::string& content, const std::string& pin) const {
  client::PaymentInput in{order, id_.phone, amount, "CNY", content, false, counter,
                          static_cast<std::uint64_t>(std::time(nullptr))};
  auto m = client::buildPayment(in, Secret::copyOf(pin), session_.value().keys, credential_->private_key,
                                client::systemRandom())
               .value();
  Poco::JSON::Object o;
  o.set("session_id", gateway::base64url(m.signed_fields.session_id));
  o.set("order_no", order);
  o.set("phone", id_.phone);
  o.set("amount_minor", amount);
  o.set("currency", "CNY");
  o.set("content", content);
  o.set("pin_ciphertext", gateway::base64url(m.signed_fields.pin_ciphertext));
  o.set("counter", counter);
  o.set("timestamp", in.timestamp);
  o.set("signature", gateway::base64url(m.signature));
  return gateway::toJson(o);
}

bool RawPhone::logIn(const RunningAppliance& app) {
  client::ApiClient api(app.url(), "");
  auto session = client::login(api, platform_, credential_->private_key, id_.phone,
                               Secret::copyOf(std::string(kPassword)), static_cast<std::uint64_t>(std::time(nullptr)));
  if (!session) return false;
  session_.emplace(std::move(session).value());
  return true;
}

std::string RawPhone::loginBody(const std::string& password, std::int64_t age_seconds) const {
  auto service = suite::EcPublicKey::fromPoint(platform_.service_point).value();
  auto m = client::buildLogin(service, credential_->private_key, id_.phone, Secret::copyOf(password),
                              static_cast<std::uint64_t>(std::time(nullptr) - age_seconds), suite::randomBytes(16),
                              client::systemRandom())
               .value();
  Poco::JSON::Object o;
  o.set("phone", id_.phone);
  o.set("c1", gateway::base64url(m.c1));
  o.set("c2", gateway::base64url(m.c2));
  return gateway::toJson(o);
}

}  // namespace mpay::test
