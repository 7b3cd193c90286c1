// The operator's console on the management listener (GET /console, next to
// /metrics): health of the signer, its HSM and the database; request rates
// and error codes from the /metrics counters; orders waiting for an outcome;
// the platform keys' fingerprints; the latest audit records (the signer's
// audit_tail). Read-only: it changes nothing and answers nothing but GET.
// Only the holder of gateway.console_token_file's token sees it (HTTP Basic
// with the token as the password, or "Authorization: Bearer TOKEN").
#pragma once
#include <Poco/Net/HTTPServerRequest.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "gateway/console_page.h"
#include "gateway/metrics.h"
#include "gateway/signer_pool.h"
#include "gateway/store.h"

namespace mpay::gateway {

// Who may see the console. The token is kept as its SHA-256 only.
class ConsoleCredential {
 public:
  // The token file: at least 32 bytes (trailing whitespace dropped), not
  // readable by group or others.
  static Result<ConsoleCredential> load(const std::string& path);
  static ConsoleCredential fromToken(const std::string& token);
  bool admits(const Poco::Net::HTTPServerRequest& request) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

class Console {
 public:
  Console(ConsoleCredential credential, SignerPool& signer, Store& store, GatewayMetrics& metrics,
          std::function<std::int64_t()> now);

  bool admits(const Poco::Net::HTTPServerRequest& request) const { return credential_.admits(request); }
  // Keeps the request counters now, for the rates (the gateway calls it every 2 s).
  void sample();
  ConsoleView gather();
  std::string render() { return renderConsolePage(gather()); }

 private:
  using Totals = std::map<std::pair<std::string, std::string>, double>;
  ConsoleCredential credential_;
  SignerPool& signer_;
  Store& store_;
  GatewayMetrics& metrics_;
  std::function<std::int64_t()> now_;
  std::mutex samples_mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, Totals>> samples_;
};

}  // namespace mpay::gateway
