// The operator's console: one read-only HTML page, rendered on the server
// from what the gateway knows at that moment (no script, no framework, no
// request to anywhere else). Every value is HTML-escaped; nothing on it is a
// secret (no phone number, no key, no code).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mpay::gateway {

struct ConsoleView {
  std::int64_t now = 0;  // seconds since the epoch
  std::string version;
  // Health: "ok", "healthy", "degraded", "down", or the error code that kept it from answering.
  std::string signer, hsm, database;
  struct Key {
    std::string name, sha256, source;
  };
  std::vector<Key> keys;
  std::string rotation;  // the keys' rotation state, as a sentence
  struct Requests {
    std::string route, result;
    double total = 0;
    double per_second = 0;  // over the last minute (or since the gateway started)
  };
  std::vector<Requests> requests;
  double rate_window_seconds = 0;
  struct AuditRecord {
    std::uint64_t seq = 0;
    std::int64_t time = 0;
    std::string role, op, result, keys, note;
  };
  std::vector<AuditRecord> audit;  // newest first
  std::string audit_error;         // why none could be read
  struct Order {
    std::string order_no, state, amount, acquirer_result;
    std::int64_t age_seconds = 0;
  };
  std::vector<Order> open_orders;
  std::string orders_error;
};

std::string renderConsolePage(const ConsoleView& view);

// "&", "<", ">", '"' and "'" as character references.
std::string htmlEscape(const std::string& text);

}  // namespace mpay::gateway
