// A phone and the gateway's bookkeeping, talking to the signer directly:
// register (S02-S06), activate (S07-S09), log in (S31-S39), pay (S41-S46).
// The gateway of a later stage does the same over HTTP with a database.
#pragma once
#include <optional>
#include <string>

#include "client/phone.h"
#include "gateway/signer_client.h"

namespace mpay::test {

struct PhoneProfile {
  std::string phone = "+8613800138000";
  std::string imei = "356938035643809";
  std::string sim = "89860012345678901234";
  std::string password = "correct horse 42";
  std::string pin = "246810";
  std::string name = "张三";
  std::string id_number = "110101199003070000";
};

// What the gateway stores per user (no secret in it).
struct UserRecord {
  Bytes certificate, salt, password_verifier, pin_verifier, identity;
};

class PhoneFlow {
 public:
  PhoneFlow(gateway::SignerClient& signer, PhoneProfile profile = {});

  Result<wire::OpenRegistrationResponse> registerPhone();
  Status activate(const wire::OpenRegistrationResponse& registration);
  // Registration and activation in one go.
  Status enroll();
  Result<wire::OpenLoginResponse> login(std::optional<std::string> password = std::nullopt);
  // A login request as the gateway forwards it, not sent (a fresh nonce each).
  wire::OpenLoginRequest loginRequest(const std::string& password) const;
  wire::OpenPaymentRequest paymentRequest(const client::PaymentInput& input, const std::string& pin);
  client::PaymentInput defaultPayment(const std::string& order_no, bool critical = false) const;

  const PhoneProfile& profile() const { return profile_; }
  const UserRecord& user() const { return user_; }
  const wire::PlatformInfoResponse& platform() const { return platform_; }
  const suite::EcPublicKey& serviceKey() const { return *service_; }
  const suite::EcPrivateKey& userKey() const { return credential_->opened.private_key; }
  const suite::LoginKeys& sessionKeys() const { return *keys_; }
  const Bytes& wrappedKeys() const { return wrapped_keys_; }
  Secret info3() const;

 private:
  gateway::SignerClient& signer_;
  PhoneProfile profile_;
  wire::PlatformInfoResponse platform_;
  std::optional<suite::EcPublicKey> service_;
  UserRecord user_;
  std::optional<client::ActivatedCredential> credential_;
  std::optional<suite::LoginKeys> keys_;
  Bytes wrapped_keys_;
  std::uint64_t counter_ = 0;
};

std::uint64_t nowSeconds();

}  // namespace mpay::test
