#include "common/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <set>
#include <thread>

namespace mpay {
namespace {

using Poco::Util::IniFileConfiguration;

const std::set<std::string>& knownKeys() {
  static const std::set<std::string> keys = {
      "paths.public_dir", "paths.policy_dir",
      "hsm.module", "hsm.token_uri", "hsm.pin_file", "hsm.softhsm2_conf", "hsm.token_dir",
      "signer.socket", "signer.workers", "signer.threads", "signer.max_frame",
      "signer.audit_log", "signer.user", "signer.admin_uid", "signer.pkcs12_iterations", "signer.restart_backoff_ms",
      "signer.idle_timeout_s", "signer.state_file", "signer.acquirer_certificate", "signer.checkpoint_file",
      "gateway.user", "gateway.listen", "gateway.port", "gateway.tls_cert", "gateway.tls_key", "gateway.db_url",
      "gateway.outbox", "gateway.webhook_url", "gateway.webhook_secret_file", "gateway.acquirer_url",
      "gateway.acquirer_timeout_ms", "gateway.max_body", "gateway.request_timeout_ms", "gateway.max_threads",
      "gateway.max_queued", "gateway.max_connections", "gateway.max_connections_per_source", "gateway.signer_connections", "gateway.signer_timeout_ms", "gateway.rate_per_phone",
      "gateway.rate_per_source", "gateway.registration_ttl", "gateway.max_code_attempts",
      "gateway.lockout_threshold", "gateway.lockout_seconds", "gateway.replay_window",
      "gateway.metrics_listen", "gateway.metrics_port", "gateway.console_token_file", "gateway.outbound_ca_file",
      "acquirer_sim.port", "acquirer_sim.limit_minor", "acquirer_sim.ledger", "acquirer_sim.signing_key",
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

Status loadGateway(const IniFileConfiguration& ini, GatewayConfig& g) {
  struct IntKey {
    const char* key;
    int* out;
    long min, max;
  };
  const IntKey ints[] = {
      {"gateway.port", &g.port, 1, 65535},
      {"gateway.acquirer_timeout_ms", &g.acquirer_timeout_ms, 100, 120000},
      {"gateway.max_body", &g.max_body, 1024, 1 << 20},
      {"gateway.request_timeout_ms", &g.request_timeout_ms, 100, 120000},
      {"gateway.max_threads", &g.max_threads, 1, 512},
      {"gateway.max_queued", &g.max_queued, 1, 4096},
      {"gateway.max_connections", &g.max_connections, 1, 16384},
      {"gateway.max_connections_per_source", &g.max_connections_per_source, 0, 16384},
      {"gateway.signer_connections", &g.signer_connections, 0, 256},
      {"gateway.signer_timeout_ms", &g.signer_timeout_ms, 100, 120000},
      {"gateway.rate_per_phone", &g.rate_per_phone, 1, 1000000},
      {"gateway.rate_per_source", &g.rate_per_source, 1, 1000000},
      {"gateway.registration_ttl", &g.registration_ttl, 60, 86400},
      {"gateway.max_code_attempts", &g.max_code_attempts, 1, 100},
      {"gateway.lockout_threshold", &g.lockout_threshold, 1, 100},
      {"gateway.lockout_seconds", &g.lockout_seconds, 1, 86400 * 30},
      {"gateway.replay_window", &g.replay_window, 5, 3600},
      {"gateway.metrics_port", &g.metrics_port, 0, 65535},
  };
  for (const auto& k : ints) {
    MPAY_ASSIGN_OR_RETURN(long v, boundedInt(ini, k.key, *k.out, k.min, k.max));
    *k.out = static_cast<int>(v);
  }
  g.user = ini.getString("gateway.user", g.user);
  g.listen = ini.getString("gateway.listen", g.listen);
  g.metrics_listen = ini.getString("gateway.metrics_listen", g.metrics_listen);
  g.tls_cert = ini.getString("gateway.tls_cert", "");
  g.tls_key = ini.getString("gateway.tls_key", "");
  if (g.tls_cert.empty() != g.tls_key.empty())
    return fail(ErrorCode::kConfig, "gateway.tls_cert and gateway.tls_key go together");
  g.db_url = ini.getString("gateway.db_url", "");
  g.outbox = ini.getString("gateway.outbox", "");
  g.webhook_url = ini.getString("gateway.webhook_url", "");
  g.webhook_secret_file = ini.getString("gateway.webhook_secret_file", "");
  if (!g.webhook_url.empty() && g.webhook_secret_file.empty())
    return fail(ErrorCode::kConfig, "gateway.webhook_url needs gateway.webhook_secret_file");
  g.acquirer_url = ini.getString("gateway.acquirer_url", "");
  g.outbound_ca_file = ini.getString("gateway.outbound_ca_file", "");
  g.console_token_file = ini.getString("gateway.console_token_file", "");
  if (!g.console_token_file.empty() && g.metrics_port == 0)
    return fail(ErrorCode::kConfig, "gateway.console_token_file needs the management listener (gateway.metrics_port)");
  return {};
}

}  // namespace

int SignerConfig::effectiveWorkers() const {
  return workers > 0 ? workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

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
  c.hsm.token_dir = ini->getString("hsm.token_dir", "");
  MPAY_ASSIGN_OR_RETURN(c.signer.socket, requiredString(*ini, "signer.socket"));
  MPAY_ASSIGN_OR_RETURN(c.signer.audit_log, requiredString(*ini, "signer.audit_log"));
  MPAY_ASSIGN_OR_RETURN(long workers, boundedInt(*ini, "signer.workers", 0, 0, 64));
  MPAY_ASSIGN_OR_RETURN(long threads, boundedInt(*ini, "signer.threads", 4, 1, 64));
  MPAY_ASSIGN_OR_RETURN(long max_frame, boundedInt(*ini, "signer.max_frame", 65536, 4096, 1 << 20));
  MPAY_ASSIGN_OR_RETURN(long admin_uid, boundedInt(*ini, "signer.admin_uid", 0, 0, 0x7fffffff));
  MPAY_ASSIGN_OR_RETURN(long iterations,
                        boundedInt(*ini, "signer.pkcs12_iterations", 200000, 10000, 10000000));
  c.signer.workers = static_cast<int>(workers);
  c.signer.threads = static_cast<int>(threads);
  c.signer.max_frame = static_cast<std::uint32_t>(max_frame);
  c.signer.user = ini->getString("signer.user", c.signer.user);
  c.signer.admin_uid = admin_uid;
  c.signer.pkcs12_iterations = static_cast<int>(iterations);
  MPAY_ASSIGN_OR_RETURN(long backoff, boundedInt(*ini, "signer.restart_backoff_ms", 250, 50, 60000));
  c.signer.restart_backoff_ms = static_cast<int>(backoff);
  MPAY_ASSIGN_OR_RETURN(long idle, boundedInt(*ini, "signer.idle_timeout_s", 60, 1, 3600));
  c.signer.idle_timeout_s = static_cast<int>(idle);
  c.signer.state_file = ini->getString("signer.state_file", "");
  if (c.signer.state_file.empty())
    c.signer.state_file = c.signer.audit_log.substr(0, c.signer.audit_log.rfind('/') + 1) + "signer.state";
  c.signer.acquirer_certificate = ini->getString("signer.acquirer_certificate", "");
  c.signer.checkpoint_file = ini->getString("signer.checkpoint_file", c.public_dir + "/audit-checkpoint.json");
  MPAY_RETURN_IF_ERROR(loadGateway(*ini, c.gateway));
  // The signer serves workers x threads connections at once; a pooled gateway
  // connection beyond that would wait in the socket's backlog for good, and
  // every call on it would time out as signer_unavailable.
  const int served = c.signer.effectiveWorkers() * c.signer.threads;
  // Matched to the cores by default: one connection a signer thread.
  if (c.gateway.signer_connections == 0) c.gateway.signer_connections = served;
  if (c.gateway.signer_connections > served)
    return fail(ErrorCode::kConfig, "gateway.signer_connections (" + std::to_string(c.gateway.signer_connections) +
                                        ") exceeds the connections the signer serves at once: signer.workers (" +
                                        std::to_string(c.signer.effectiveWorkers()) + ") x signer.threads (" +
                                        std::to_string(c.signer.threads) + ") = " + std::to_string(served));
  if (ini->hasOption("acquirer_sim.port")) {
    c.acquirer_sim.enabled = true;
    MPAY_ASSIGN_OR_RETURN(long sim_port, boundedInt(*ini, "acquirer_sim.port", 0, 1, 65535));
    MPAY_ASSIGN_OR_RETURN(long limit, boundedInt(*ini, "acquirer_sim.limit_minor", 0, 0, 0x7fffffffffffffffL));
    c.acquirer_sim.port = static_cast<int>(sim_port);
    c.acquirer_sim.limit_minor = static_cast<std::uint64_t>(limit);
    c.acquirer_sim.ledger = ini->getString("acquirer_sim.ledger", "");
    MPAY_ASSIGN_OR_RETURN(c.acquirer_sim.signing_key, requiredString(*ini, "acquirer_sim.signing_key"));
  }
  return c;
}

const std::set<std::string>& configKeys() { return knownKeys(); }

}  // namespace mpay
