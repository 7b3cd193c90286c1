#include "gateway/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <sstream>

namespace mpay::gateway {
namespace {

// The only values the route label takes.
constexpr std::array<std::string_view, 7> kRoutes = {"/healthz",    "/v1/platform", "/v1/register", "/v1/activate",
                                                     "/v1/confirm", "/v1/login",    "/v1/pay"};

std::string routeLabel(std::string_view path) {
  for (std::string_view route : kRoutes)
    if (path == route) return std::string(route);
  return "other";
}

// From a cached health check to a login's ECDH and a payment that waits
// for the acquirer (its timeout is seconds).
prometheus::Histogram::BucketBoundaries requestBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

prometheus::Histogram::BucketBoundaries signerBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5};
}

}  // namespace

GatewayMetrics::GatewayMetrics(std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("mpay_http_requests_total")
                    .Help("HTTP requests answered, by API route and result (ok or the error code)")
                    .Register(*registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("mpay_http_request_duration_seconds")
                           .Help("Time from a request's first byte read to its answer, by API route")
                           .Register(*registry_)),
      refused_(prometheus::BuildCounter()
                   .Name("mpay_http_connections_refused_total")
                   .Help("Connections answered 503 overloaded because gateway.max_connections were open")
                   .Register(*registry_)
                   .Add({})),
      signer_calls_(prometheus::BuildCounter()
                        .Name("mpay_signer_calls_total")
                        .Help("Calls to the signer, by result (ok or the error code)")
                        .Register(*registry_)),
      signer_seconds_(prometheus::BuildHistogram()
                          .Name("mpay_signer_call_duration_seconds")
                          .Help("Time of one signer call, including the wait for a free connection")
                          .Register(*registry_)
                          .Add({}, signerBuckets())),
      open_orders_(prometheus::BuildGauge()
                       .Name("mpay_orders_open")
                       .Help("Orders verified whose outcome or receipt is not final yet (the appliance completes them)")
                       .Register(*registry_)
                       .Add({})),
      approved_without_receipt_(prometheus::BuildGauge()
                                    .Name("mpay_orders_approved_without_receipt")
                                    .Help("Orders the acquirer approved that have no signed receipt yet")
                                    .Register(*registry_)
                                    .Add({})),
      audit_checkpoint_(prometheus::BuildGauge()
                            .Name("mpay_audit_checkpoint_sequence")
                            .Help("Audit record number of the signer's latest signed checkpoint (signer.checkpoint_file)")
                            .Register(*registry_)
                            .Add({})),
      key_generations_(prometheus::BuildGauge()
                           .Name("mpay_key_generation_holds")
                           .Help("What a verifier key or KEK generation still protects in the database: password "
                                 "and PIN verifiers, identity records, live sessions; an old generation may be "
                                 "retired at 0")
                           .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("mpay_build_info")
      .Help("Always 1; the version label says which mpay build answers")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
}

void GatewayMetrics::request(std::string_view path, std::string_view result, double seconds) {
  const std::string route = routeLabel(path);
  requests_.Add({{"route", route}, {"result", std::string(result)}}).Increment();
  request_seconds_.Add({{"route", route}}, requestBuckets()).Observe(seconds);
}

void GatewayMetrics::connectionRefused() { refused_.Increment(); }

void GatewayMetrics::signerCall(std::string_view result, double seconds) {
  signer_calls_.Add({{"result", std::string(result)}}).Increment();
  signer_seconds_.Observe(seconds);
}

void GatewayMetrics::openOrders(std::int64_t open, std::int64_t approved_without_receipt) {
  open_orders_.Set(static_cast<double>(open));
  approved_without_receipt_.Set(static_cast<double>(approved_without_receipt));
}

void GatewayMetrics::auditCheckpoint(std::uint64_t seq) { audit_checkpoint_.Set(static_cast<double>(seq)); }

void GatewayMetrics::keyGenerations(const std::vector<GenerationCount>& counts) {
  std::lock_guard lock(key_generations_mutex_);
  std::vector<prometheus::Gauge*> now;
  for (const auto& c : counts) {
    auto& gauge =
        key_generations_.Add({{"key", c.key}, {"which", c.which}, {"generation", std::to_string(c.generation)}});
    gauge.Set(static_cast<double>(c.count));
    now.push_back(&gauge);
  }
  for (prometheus::Gauge* before : key_generation_gauges_)
    if (std::find(now.begin(), now.end(), before) == now.end()) key_generations_.Remove(before);
  key_generation_gauges_ = std::move(now);
}

std::vector<GatewayMetrics::RequestCount> GatewayMetrics::requestCounts() const {
  std::vector<RequestCount> out;
  for (const auto& family : registry_->Collect()) {
    if (family.name != "mpay_http_requests_total") continue;
    for (const auto& metric : family.metric) {
      RequestCount c;
      for (const auto& label : metric.label) {
        if (label.name == "route") c.route = label.value;
        if (label.name == "result") c.result = label.value;
      }
      c.total = metric.counter.value;
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string GatewayMetrics::render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace mpay::gateway
