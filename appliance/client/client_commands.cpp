#include "client/client_commands.h"

#include <Poco/JSON/Object.h>

#include <ctime>
#include <iostream>

#include "client/api_client.h"
#include "client/device_state.h"
#include "client/flows.h"
#include "client/phone.h"
#include "ca/certificate.h"
#include "common/command_line.h"
#include "gateway/json_fields.h"
#include "suite/messages.h"

namespace mpay::client {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = kExitUsage;

int failed(const std::string& what) {
  std::cerr << "mpay-client: " << what << "\n";
  return kFailed;
}
int failed(const ApiFailure& f) {
  std::string what = f.code;
  if (!f.message.empty()) what += (what.empty() ? "" : ": ") + f.message;
  if (f.http_status) what += " (HTTP " + std::to_string(f.http_status) + ")";
  return failed(what);
}
int failed(const Error& e) { return failed(std::string(errorName(e.code)) + ": " + e.detail); }

const std::string& need(const Options& o, const std::string& key, bool* missing) {
  static const std::string empty;
  auto it = o.find(key);
  if (it == o.end() || it->second.empty()) {
    std::cerr << "mpay-client: --" << key << " is required\n";
    *missing = true;
    return empty;
  }
  return it->second;
}

bool has(const Options& o, const std::string& key) { return o.contains(key); }
ApiClient api(const Options& o) { return ApiClient(o.at("server"), o.contains("ca") ? o.at("ca") : ""); }
std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// S01: the platform data, fetched at registration and kept; refreshPlatform
// follows a rotation before each login and payment.
FlowResult<PlatformData> fetchAndKeepPlatform(const Options& o, const DeviceState& state) {
  auto client = api(o);
  MPAY_ASSIGN_OR_RETURN(PlatformData p, fetchPlatform(client));
  if (auto saved = state.savePlatform(p); !saved) return localFailure(saved.error().detail);
  return p;
}

// Before each login and payment: the service key may have been rotated (the
// platform then announces the new one first, and still opens with the old
// one until its overlap ends), and a receipt key rotation publishes the next
// receipt certificate before receipts are signed with it. The CA is what
// the phone trusts the platform by: a platform that presents another CA is
// followed only when a cross certificate from a CA the phone trusts
// certifies it (a CA rotation), and refused otherwise.
FlowResult<PlatformData> refreshPlatform(const Options& o, const DeviceState& state, const PlatformData& kept) {
  auto client = api(o);
  MPAY_ASSIGN_OR_RETURN(PlatformData fresh, fetchPlatform(client));
  auto follow = checkPlatformChange(kept, fresh);
  if (!follow) return localFailure(follow.error().detail);
  fresh = std::move(follow).value();
  if (fresh.service_point == kept.service_point && fresh.receipt_certs == kept.receipt_certs &&
      fresh.ca_cert == kept.ca_cert && fresh.ca_cross == kept.ca_cross)
    return fresh;
  if (auto saved = state.savePlatform(fresh); !saved) return localFailure(saved.error().detail);
  return fresh;
}

// S31-S33 / S41-S43: info3 opens the certificate file.
Result<suite::OpenedCertificateFile> openCredential(const DeviceState& state, const DeviceIdentity& id,
                                                   const std::string& password) {
  MPAY_ASSIGN_OR_RETURN(Bytes p12, state.certificateFile());
  Secret info3 = suite::info3Password(id.phone, id.imei, id.sim, Secret::copyOf(password));
  return suite::openCertificateFile(p12, info3);
}

}  // namespace

bool parseAmount(const std::string& text, const std::string& currency, std::uint64_t* minor) {
  const int decimals = (currency == "JPY" || currency == "KRW") ? 0 : 2;
  auto dot = text.find('.');
  std::string whole = text.substr(0, dot), frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 15 || static_cast<int>(frac.size()) > decimals ||
      (dot != std::string::npos && frac.empty()))
    return false;
  for (char c : whole + frac)
    if (c < '0' || c > '9') return false;
  while (static_cast<int>(frac.size()) < decimals) frac += '0';
  *minor = std::stoull(whole + frac);
  return *minor > 0;
}

int registerCommand(const Options& o) {
  bool missing = false;
  DeviceIdentity id{need(o, "phone", &missing), need(o, "imei", &missing), need(o, "sim", &missing), false};
  const std::string& password = need(o, "password", &missing);
  const std::string& pin = need(o, "pin", &missing);
  const std::string& name = need(o, "name", &missing);
  const std::string& id_number = need(o, "id-number", &missing);
  if (missing) return kUsage;
  DeviceState state(o.at("state"));
  if (auto s = state.init(); !s) return failed(s.error());
  auto platform = fetchAndKeepPlatform(o, state);
  if (!platform) return failed(platform.error());
  suite::Info1 info{id.phone, id.imei, id.sim, Secret::copyOf(password), Secret::copyOf(pin), name, id_number};
  auto client = api(o);
  auto registered = registerPhone(client, platform.value(), info);
  if (!registered) return failed(registered.error());
  if (auto s = state.saveIdentity(id); !s) return failed(s.error());
  const std::string& code = registered.value();
  if (has(o, "json")) {
    Poco::JSON::Object out;
    out.set("registration_code", code);
    std::cout << gateway::toJson(out) << "\n";
  } else {
    std::cout << "registration code: " << code << "\nconfirmation code: sent by SMS\n";
  }
  return kOk;
}

int activateCommand(const Options& o) {
  bool missing = false;
  const std::string& rc = need(o, "registration-code", &missing);
  const std::string& cc = need(o, "confirmation-code", &missing);
  if (missing) return kUsage;
  DeviceState state(o.at("state"));
  auto id = state.identity();
  if (!id) return failed("not registered on this device: run register first");
  auto client = api(o);
  auto p12 = activatePhone(client, id->phone, rc, cc);
  if (!p12) return failed(p12.error());
  if (auto s = state.saveCertificateFile(p12.value()); !s) return failed(s.error());
  id->activated = true;
  if (auto s = state.saveIdentity(id.value()); !s) return failed(s.error());
  std::cout << "activated: certificate file stored\n";
  return kOk;
}

int loginCommand(const Options& o) {
  bool missing = false;
  const std::string& password = need(o, "password", &missing);
  if (missing) return kUsage;
  DeviceState state(o.at("state"));
  auto id = state.identity();
  auto platform = state.platform();
  if (!id || !id->activated || !platform) return failed("not activated on this device");
  auto credential = openCredential(state, id.value(), password);
  if (!credential) return failed("the certificate file does not open: wrong password for this device");
  auto fresh = refreshPlatform(o, state, platform.value());
  if (!fresh) return failed(fresh.error());
  // S09's check, against the CAs this phone trusts: the user certificate
  // is from one of them, or from a newer one a CA rotation switched to
  // between registration and activation, which the refresh has followed.
  if (auto own = ca::verifyUserCertificate(credential->user_cert_der, trustOf(fresh.value())); !own)
    return failed("the certificate file's certificate is not from a CA this phone trusts: " + own.error().detail);
  auto client = api(o);
  auto session = login(client, fresh.value(), credential->private_key, id->phone, Secret::copyOf(password), now());
  if (!session) return failed(session.error());
  if (auto s = state.saveSession(session.value()); !s) return failed(s.error());
  std::cout << "logged in; session valid until " << session->expires_at << "\n";
  return kOk;
}

int payCommand(const Options& o) {
  bool missing = false;
  const std::string& password = need(o, "password", &missing);
  const std::string& pin = need(o, "pin", &missing);
  const std::string& order = need(o, "order", &missing);
  const std::string& amount_text = need(o, "amount", &missing);
  const std::string& currency = need(o, "currency", &missing);
  if (missing) return kUsage;
  PaymentInput in;
  in.order_no = order;
  in.currency = currency;
  in.content = has(o, "content") ? o.at("content") : "mpay payment " + order;
  in.critical = has(o, "critical");
  if (!parseAmount(amount_text, currency, &in.amount_minor)) return failed("--amount is not a positive amount in " + currency);
  DeviceState state(o.at("state"));
  auto id = state.identity();
  auto platform = state.platform();
  auto session = state.session();
  if (!id || !id->activated || !platform) return failed("not activated on this device");
  if (!session || session->expires_at <= now()) return failed("no live session: run login");
  auto fresh = refreshPlatform(o, state, platform.value());
  if (!fresh) return failed(fresh.error());
  auto credential = openCredential(state, id.value(), password);
  if (!credential) return failed("the certificate file does not open: wrong password for this device");
  in.phone = id->phone;
  in.counter = session->counter + 1;
  in.timestamp = now();
  session->counter = in.counter;  // spent, whatever the answer
  if (auto s = state.saveSession(session.value()); !s) return failed(s.error());
  auto client = api(o);
  auto receipt = pay(client, fresh.value(), in, Secret::copyOf(pin), session->keys, credential->private_key);
  if (!receipt) return failed(receipt.error());
  const std::string result = receipt->result == suite::PaymentResult::kApproved ? "approved" : "declined";
  if (has(o, "json")) {
    Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
    out.set("transaction_no", receipt->transaction_no);
    out.set("result", result);
    out.set("order_no", receipt->order_no);
    out.set("amount_minor", receipt->amount_minor);
    out.set("currency", receipt->currency);
    std::cout << gateway::toJson(out) << "\n";
  } else {
    std::cout << result << ": order " << receipt->order_no << ", transaction " << receipt->transaction_no
              << ", receipt signature verified\n";
  }
  return result == "approved" ? kOk : kFailed;
}

int statusCommand(const Options& o) {
  DeviceState state(o.at("state"));
  auto id = state.identity();
  if (!id) {
    std::cout << "not registered\n";
    return kOk;
  }
  auto session = state.session();
  std::cout << "phone:     " << id->phone << "\n"
            << "activated: " << (id->activated ? "yes" : "no") << "\n"
            << "session:   " << (session && session->expires_at > now() ? "live until " + std::to_string(session->expires_at) : "none")
            << "\n";
  return kOk;
}

}  // namespace mpay::client
