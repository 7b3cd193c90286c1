// The appliance configuration: one INI file read with Poco's configuration
// classes. Every key is declared below; an unknown section or key is an
// error, so a typo never silently falls back to a default.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include "common/result.h"

namespace mpay {

struct HsmConfig {
  std::string module;         // PKCS#11 module path, or "p11-kit:NAME" for a registered module
  std::string token_uri;      // RFC 7512 URI selecting the token, e.g. pkcs11:token=mpay
  std::string pin_file;       // user PIN, one line, readable by the signer only
  std::string softhsm2_conf;  // optional: exported as SOFTHSM2_CONF before the module loads
  std::string token_dir;      // optional: files the module needs after start (SoftHSM2's token directory), for Landlock
};

struct SignerConfig {
  std::string socket;          // Unix socket path; mode 0660
  int workers = 0;             // worker processes; 0 = one per core
  int effectiveWorkers() const;  // `workers`, or the number of cores for 0
  int threads = 4;             // connections served at once by each worker
  std::uint32_t max_frame = 65536;
  std::string audit_log;       // append-only, hash-chained
  std::string user = "mpay-signer";  // account the signer runs as when started by root (mpayd) or systemd
  long admin_uid = 0;          // uid allowed the admin role
  int pkcs12_iterations = 200000;  // PBKDF2 iterations in the certificate file
  int restart_backoff_ms = 250;    // first delay before a crashed worker is replaced (doubles, up to 5 s)
  int idle_timeout_s = 60;         // a connection with no request for this long is closed
  std::string state_file;          // lockouts, nonces, counters, spent permits; default: signer.state next to audit_log
  std::string checkpoint_file;     // the latest signed audit checkpoint; default: audit-checkpoint.json in public_dir
  std::string acquirer_certificate;  // PEM: the acquirer's certificate; the signer refuses to start without it
};

struct GatewayConfig {
  std::string user = "mpay-gw";      // account the gateway runs as; the signer gives its uid the gateway role
  std::string listen = "127.0.0.1";  // plain HTTP only on loopback; TLS elsewhere
  int port = 8443;
  std::string tls_cert, tls_key;     // PEM files; both or neither
  std::string db_url;                // SQLite file path, or postgresql://... (see docs/operations.md)
  std::string outbox;                // JSON-lines file for confirmation codes (development notifier)
  std::string webhook_url;           // SMS gateway webhook (production notifier)
  std::string webhook_secret_file;   // HMAC-SHA256 key for the webhook signature header
  std::string acquirer_url;          // base URL of the acquirer front
  int acquirer_timeout_ms = 5000;
  int max_body = 16384;              // bytes, Content-Length and chunked alike
  int request_timeout_ms = 10000;    // whole request, not per read
  int max_threads = 16;              // requests worked on at once (a request that is not wholly in holds none)
  int max_queued = 64;               // accepted connections waiting for a connection thread
  int max_connections = 1024;        // open connections, a thread each; more are answered 503 and closed
  int max_connections_per_source = 64;  // open connections from one address (0: no cap, behind a load balancer)
  int signer_connections = 0;       // 0: every connection the signer serves at once (signer workers x threads)
  int signer_timeout_ms = 5000;      // one signer call; past it the request gets 503 signer_unavailable
  int rate_per_phone = 30;           // requests per minute per phone number
  int rate_per_source = 120;         // requests per minute per client address
  int registration_ttl = 900;        // seconds a registration code stays valid
  int max_code_attempts = 5;         // wrong registration codes before it is void
  int lockout_threshold = 5;         // consecutive wrong passwords or PINs before a lockout
  int lockout_seconds = 900;
  int replay_window = 300;           // allowed clock skew of signed timestamps, seconds
  std::string metrics_listen = "127.0.0.1";  // Prometheus scrape address (plain HTTP, no API routes)
  int metrics_port = 0;              // 0: no metrics listener
  std::string console_token_file;    // the operator's console token (0600); empty: no /console
  std::string outbound_ca_file;      // PEM CAs for the acquirer's and the webhook's TLS; empty: the system's
};

struct AcquirerSimConfig {
  bool enabled = false;  // mpayd starts the simulator when the section exists
  int port = 0;
  std::uint64_t limit_minor = 0;  // amounts above are declined; 0 = no limit
  std::string ledger;             // its reconciliation file (JSON lines); empty: in memory only
  std::string signing_key;        // PEM private key it signs its answers with (signer.acquirer_certificate's)
};

struct Config {
  std::string path;        // the file this was loaded from
  std::string public_dir;  // PEM exports: service public key, ca.pem, receipt.pem
  std::string policy_dir;  // policy/ files
  HsmConfig hsm;
  SignerConfig signer;
  GatewayConfig gateway;
  AcquirerSimConfig acquirer_sim;

  static Result<Config> load(const std::string& path);
};

// Every key a configuration file may set ("section.key"); any other is an error.
const std::set<std::string>& configKeys();

}  // namespace mpay
