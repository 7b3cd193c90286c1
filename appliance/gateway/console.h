// The operator's console on the management listener (GET /console, next to
// /metrics): health of the signer, its HSM and the database; request rates
// and error codes from the /metrics counters; orders waiting for an outcome;
// the platform keys' fingerprints; the latest audit records (the signer's
// audit_tail). Read-only: it changes nothing and answers nothing but GET.
// Only the holder of gateway.console_token_file's token sees it (HTTP Basic
// with the token as the password, or "Authorization: Bearer TOKEN").
// A page is gathered at most once every 5 s, by one thread at a time; others
// get the last page made (its time is on it), so polling the console costs
// the signer and the database a bounded amount, and a signer outage holds at
// most one of the management listener's threads.
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
#include "gateway/engine.h"
#include "gateway/metrics.h"
#include "gateway/signer_pool.h"
#include "gateway/store.h"

namespace mpay::gateway {

// Who may see the console. The token is kept as its SHA-256 only.
class ConsoleCredential {
 public:
  // The token file: a regular file of this process's user, not readable by
  // group or others, holding 32 to 4096 bytes (trailing whitespace dropped).
  static Result<ConsoleCredential> load(const std::string& path);
  static ConsoleCredential fromToken(const std::string& token);
  bool admits(const Poco::Net::HTTPServerRequest& request) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

class Console {
 public:
  Console(ConsoleCredential credential, Engine& engine, SignerPool& signer, Store& store, GatewayMetrics& metrics,
          std::function<std::int64_t()> now);

  bool admits(const Poco::Net::HTTPServerRequest& request) const { return credential_.admits(request); }
  // Keeps the request counters now, for the rates (the gateway calls it every 2 s).
  void sample();
  ConsoleView gather();
  // The page: made now, or the last one made when it is under 5 s old, or
  // under 30 s old while another thread is making one; nothing otherwise
  // (a page in the making for long: the signer or the database hangs).
  std::optional<std::string> page();
  // A refused request, for the journal: at most one line a second, with the
  // count of refusals it stands for.
  void refused(const std::string& source);
  // Writes out refusals counted since the last line (the sampler calls it).
  void flushRefusals();

 private:
  using Totals = std::map<std::pair<std::string, std::string>, double>;
  ConsoleCredential credential_;
  Engine& engine_;
  SignerPool& signer_;
  Store& store_;
  GatewayMetrics& metrics_;
  std::function<std::int64_t()> now_;
  std::mutex samples_mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, Totals>> samples_;
  std::mutex making_;  // held while a page is gathered
  std::mutex page_mutex_;
  std::optional<std::string> page_;
  std::chrono::steady_clock::time_point page_made_{};
  std::mutex refused_mutex_;
  std::chrono::steady_clock::time_point refused_logged_{};
  long refused_unlogged_ = 0;
  std::string refused_last_source_;
};

}  // namespace mpay::gateway
