#include "common/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <set>

namespace mpay {
namespace {

using Poco::Util::IniFileConfiguration;

const std::set<std::string>& knownKeys() {
  static const std::set<std::string> keys = {
      "paths.public_dir", "paths.policy_dir",
      "hsm.module", "hsm.token_uri", "hsm.pin_file", "hsm.softhsm2_conf",
      "signer.socket", "signer.workers", "signer.threads", "signer.max_frame",
      "signer.audit_log", "signer.gateway_uid", "signer.admin_uid", "signer.pkcs12_iterations",
      "gateway.port", "gateway.db_url", "gateway.outbox",
  };
  return keys;
}

Status checkKnownKeys(const IniFileConfiguration& ini) {
  Poco::Util::AbstractConfiguration::Keys sections;
  ini.keys(sections);
  for (const auto& section : sections) {
    Poco::Util::AbstractConfiguration::Keys keys;
    ini.keys(section, keys);
    if (keys.empty()) return fail(ErrorCode::kConfig, "key outside a section or empty section: " + section);
    for (const auto& key : keys) {
      if (!knownKeys().contains(section + "." + key))
        return fail(ErrorCode::kConfig, "unknown key: " + section + "." + key);
    }
  }
  return {};
}

Result<std::string> requiredString(const IniFileConfiguration& ini, const std::string& key) {
  if (!ini.hasProperty(key) || ini.getString(key).empty())
    return fail(ErrorCode::kConfig, "missing key: " + key);
  return ini.getString(key);
}

Result<long> boundedInt(const IniFileConfiguration& ini, const std::string& key, long fallback,
                        long min, long max) {
  if (!ini.hasProperty(key)) return fallback;
  try {
    long v = ini.getInt64(key);
    if (v < min || v > max)
      return fail(ErrorCode::kConfig, key + " must be in [" + std::to_string(min) + ", " +
                                          std::to_string(max) + "]");
    return v;
  } catch (const Poco::Exception&) {
    return fail(ErrorCode::kConfig, key + " is not an integer");
  }
}

}  // namespace

Result<Config> Config::load(const std::string& path) {
  Poco::AutoPtr<IniFileConfiguration> ini;
  try {
    ini = new IniFileConfiguration(path);
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kConfig, "cannot read " + path + ": " + e.displayText());
  }
  MPAY_RETURN_IF_ERROR(checkKnownKeys(*ini));

  Config c;
  c.path = path;
  MPAY_ASSIGN_OR_RETURN(c.public_dir, requiredString(*ini, "paths.public_dir"));
  MPAY_ASSIGN_OR_RETURN(c.policy_dir, requiredString(*ini, "paths.policy_dir"));
  MPAY_ASSIGN_OR_RETURN(c.hsm.module, requiredString(*ini, "hsm.module"));
  MPAY_ASSIGN_OR_RETURN(c.hsm.token_uri, requiredString(*ini, "hsm.token_uri"));
  MPAY_ASSIGN_OR_RETURN(c.hsm.pin_file, requiredString(*ini, "hsm.pin_file"));
  c.hsm.softhsm2_conf = ini->getString("hsm.softhsm2_conf", "");
  MPAY_ASSIGN_OR_RETURN(c.signer.socket, requiredString(*ini, "signer.socket"));
  MPAY_ASSIGN_OR_RETURN(c.signer.audit_log, requiredString(*ini, "signer.audit_log"));
  MPAY_ASSIGN_OR_RETURN(long workers, boundedInt(*ini, "signer.workers", 0, 0, 64));
  MPAY_ASSIGN_OR_RETURN(long threads, boundedInt(*ini, "signer.threads", 4, 1, 64));
  MPAY_ASSIGN_OR_RETURN(long max_frame, boundedInt(*ini, "signer.max_frame", 65536, 4096, 1 << 20));
  MPAY_ASSIGN_OR_RETURN(long gateway_uid, boundedInt(*ini, "signer.gateway_uid", -1, -1, 0x7fffffff));
  MPAY_ASSIGN_OR_RETURN(long admin_uid, boundedInt(*ini, "signer.admin_uid", 0, 0, 0x7fffffff));
  MPAY_ASSIGN_OR_RETURN(long iterations,
                        boundedInt(*ini, "signer.pkcs12_iterations", 200000, 10000, 10000000));
  c.signer.workers = static_cast<int>(workers);
  c.signer.threads = static_cast<int>(threads);
  c.signer.max_frame = static_cast<std::uint32_t>(max_frame);
  c.signer.gateway_uid = gateway_uid;
  c.signer.admin_uid = admin_uid;
  c.signer.pkcs12_iterations = static_cast<int>(iterations);
  MPAY_ASSIGN_OR_RETURN(long port, boundedInt(*ini, "gateway.port", 8443, 1, 65535));
  c.gateway.port = static_cast<int>(port);
  c.gateway.db_url = ini->getString("gateway.db_url", "");
  c.gateway.outbox = ini->getString("gateway.outbox", "");
  return c;
}

}  // namespace mpay
