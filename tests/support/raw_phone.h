// A phone built from an enrolled (and, for payments, logged-in) device
// directory of a RunningAppliance, making its own request bodies: what an
// attacker who holds such a phone, or captured its requests, can send.
#pragma once
#include <optional>
#include <string>

#include "client/device_state.h"
#include "client/phone.h"
#include "support/running_appliance.h"

namespace mpay::test {

class RawPhone {
 public:
  RawPhone(const RunningAppliance& app, const std::string& device);

  // A /v1/pay body signed with the session's keys (counter chosen by the caller).
  std::string payBody(const std::string& order, std::uint64_t counter, std::uint64_t amount = 1234,
                      const std::string& content = "tea", const std::string& pin = kPin) const;
  // Logs in over HTTP (the client library's flow) and uses that new session
  // for payBody from now on; false if the login was refused.
  bool logIn(const RunningAppliance& app);
  // A /v1/login body (C1 and C2) with this password, a fresh K and nonce,
  // signed `age_seconds` in the past.
  std::string loginBody(const std::string& password = kPassword, std::int64_t age_seconds = 0) const;
  const std::string& phone() const { return id_.phone; }
  Bytes userPublicPoint() const { return credential_->private_key.publicKey().point(); }
  // The user certificate and the CA certificate of its certificate file.
  const Bytes& userCertificate() const { return credential_->user_cert_der; }
  const Bytes& issuingCa() const { return credential_->ca_cert_der; }

 private:
  client::DeviceState state_;
  client::DeviceIdentity id_;
  client::PlatformData platform_;
  std::optional<suite::OpenedCertificateFile> credential_;
  std::optional<client::CachedSession> session_;
};

}  // namespace mpay::test
