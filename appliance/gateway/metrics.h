// What a platform team scrapes to watch the gateway under load: requests by
// route and result (the stable error codes of docs/protocol.md), their
// latency, refused connections, and the signer calls behind them. Counts
// and timings only — no phone numbers, amounts or addresses — and routes
// are the fixed API paths, so a scanner cannot grow the label set.
#pragma once
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/generation_count.h"

namespace mpay::gateway {

class GatewayMetrics {
 public:
  explicit GatewayMetrics(std::string_view version);

  // `path` as the client sent it; anything but an API path counts as "other".
  void request(std::string_view path, std::string_view result, double seconds);
  void connectionRefused();
  void signerCall(std::string_view result, double seconds);
  // Orders whose outcome is still open, and those the acquirer approved that
  // have no receipt yet (the appliance completes them; both return to 0).
  void openOrders(std::int64_t open, std::int64_t approved_without_receipt);
  // The sequence number of the signer's latest signed audit checkpoint.
  void auditCheckpoint(std::uint64_t seq);
  // What each verifier key and KEK generation protects in the database; a
  // generation no longer counted leaves the family.
  void keyGenerations(const std::vector<GenerationCount>& counts);

  // mpay_http_requests_total, one entry per (route, result) seen so far.
  struct RequestCount {
    std::string route, result;
    double total = 0;
  };
  std::vector<RequestCount> requestCounts() const;

  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Counter& refused_;
  prometheus::Family<prometheus::Counter>& signer_calls_;
  prometheus::Histogram& signer_seconds_;
  prometheus::Gauge& open_orders_;
  prometheus::Gauge& approved_without_receipt_;
  prometheus::Gauge& audit_checkpoint_;
  prometheus::Family<prometheus::Gauge>& key_generations_;
  std::mutex key_generations_mutex_;
  std::vector<prometheus::Gauge*> key_generation_gauges_;  // guarded by key_generations_mutex_
};

}  // namespace mpay::gateway
