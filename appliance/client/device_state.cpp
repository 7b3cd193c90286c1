#include "client/device_state.h"

#include <sys/stat.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/json_fields.h"

namespace mpay::client {
namespace {

using gateway::base64url;

Status writeFile(const std::string& path, ByteView data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out.flush()) return fail(ErrorCode::kIo, "cannot write " + tmp);
  }
  chmod(tmp.c_str(), mode);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot write " + path);
  return {};
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "missing " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<Poco::JSON::Object::Ptr> readJson(const std::string& path) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readFile(path));
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return fail(ErrorCode::kIo, "corrupt " + path);
  }
}

Status writeJson(const std::string& path, const Poco::JSON::Object& o, mode_t mode) {
  return writeFile(path, asBytes(gateway::toJson(o)), mode);
}

Bytes unb64(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  auto r = gateway::unbase64url(o->optValue<std::string>(key, ""), 1 << 16);
  return r.ok() ? r.value() : Bytes{};
}

}  // namespace

Status DeviceState::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || chmod(dir_.c_str(), 0700) != 0) return fail(ErrorCode::kIo, "cannot create state directory " + dir_);
  return {};
}

Result<DeviceIdentity> DeviceState::identity() const {
  MPAY_ASSIGN_OR_RETURN(auto o, readJson(path("device.json")));
  return DeviceIdentity{o->getValue<std::string>("phone"), o->getValue<std::string>("imei"),
                        o->getValue<std::string>("sim"), o->getValue<bool>("activated")};
}

Status DeviceState::saveIdentity(const DeviceIdentity& id) const {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("phone", id.phone);
  o.set("imei", id.imei);
  o.set("sim", id.sim);
  o.set("activated", id.activated);
  return writeJson(path("device.json"), o, 0600);
}

Result<PlatformData> DeviceState::platform() const {
  MPAY_ASSIGN_OR_RETURN(auto o, readJson(path("platform.json")));
  PlatformData p{o->getValue<std::string>("suite"), unb64(o, "service_public_key"), unb64(o, "ca_certificate"),
                 unb64(o, "receipt_certificate"), {}, 1, {}, 1, {}, {}};
  if (auto list = o->getArray("receipt_certificates"))
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto der = gateway::unbase64url(list->getElement<std::string>(static_cast<unsigned>(i)), 1 << 16);
      if (der) p.receipt_certs.push_back(std::move(der).value());
    }
  if (p.receipt_certs.empty()) p.receipt_certs.push_back(p.receipt_cert);  // kept before receipt rotation
  p.service_generation = o->optValue<std::uint64_t>("service_generation", 1);
  p.service_endorsement = unb64(o, "service_ca_signature");
  // Kept before CA rotation: the one CA of the registration.
  p.ca_generation = o->optValue<std::uint64_t>("ca_generation", 1);
  const auto list = [&](const char* key, std::vector<Bytes>* out) {
    if (auto items = o->getArray(key))
      for (std::size_t i = 0; i < items->size(); ++i)
        if (auto der = gateway::unbase64url(items->getElement<std::string>(static_cast<unsigned>(i)), 1 << 16))
          out->push_back(std::move(der).value());
  };
  list("trusted_ca_certificates", &p.trusted_cas);
  list("ca_cross_certificates", &p.ca_cross);
  if (p.trusted_cas.empty()) p.trusted_cas.push_back(p.ca_cert);
  return p;
}

Status DeviceState::savePlatform(const PlatformData& p) const {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("suite", p.suite);
  o.set("service_public_key", base64url(p.service_point));
  o.set("ca_certificate", base64url(p.ca_cert));
  o.set("receipt_certificate", base64url(p.receipt_cert));
  Poco::JSON::Array::Ptr receipts = new Poco::JSON::Array;
  for (const auto& der : p.receipt_certs) receipts->add(base64url(der));
  o.set("receipt_certificates", receipts);
  o.set("service_generation", p.service_generation);
  if (!p.service_endorsement.empty()) o.set("service_ca_signature", base64url(p.service_endorsement));
  o.set("ca_generation", p.ca_generation);
  for (const auto& [key, certs] : {std::pair{"trusted_ca_certificates", &p.trusted_cas},
                                   std::pair{"ca_cross_certificates", &p.ca_cross}}) {
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& der : *certs) list->add(base64url(der));
    o.set(key, list);
  }
  return writeJson(path("platform.json"), o, 0644);
}

Result<Bytes> DeviceState::certificateFile() const {
  MPAY_ASSIGN_OR_RETURN(std::string text, readFile(path("certificate.p12")));
  return toBytes(text);
}

Status DeviceState::saveCertificateFile(ByteView p12) const { return writeFile(path("certificate.p12"), p12, 0600); }

Result<CachedSession> DeviceState::session() const {
  MPAY_ASSIGN_OR_RETURN(auto o, readJson(path("session.json")));
  CachedSession s;
  s.keys.session_id = unb64(o, "session_id");
  s.keys.message_key = Secret::copyOf(unb64(o, "message_key"));
  s.keys.pin_key = Secret::copyOf(unb64(o, "pin_key"));
  s.expires_at = o->getValue<std::uint64_t>("expires_at");
  s.counter = o->getValue<std::uint64_t>("counter");
  return s;
}

Status DeviceState::saveSession(const CachedSession& s) const {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("session_id", base64url(s.keys.session_id));
  o.set("message_key", base64url(s.keys.message_key.exposeSecret()));
  o.set("pin_key", base64url(s.keys.pin_key.exposeSecret()));
  o.set("expires_at", s.expires_at);
  o.set("counter", s.counter);
  return writeJson(path("session.json"), o, 0600);
}

ca::CaTrust trustOf(const PlatformData& p) {
  return ca::CaTrust{p.trusted_cas.empty() ? std::vector<Bytes>{p.ca_cert} : p.trusted_cas, p.ca_cross};
}

}  // namespace mpay::client
