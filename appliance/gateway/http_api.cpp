#include "gateway/http_api.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>

#include <ctime>

#include "common/log.h"
#ifdef MPAY_TEST_HOOKS
#include "sandbox/probes.h"
#endif

namespace mpay::gateway {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

std::atomic<std::uint64_t> g_request_ids{1};

void send(HTTPServerResponse& response, int status, const std::string& body) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.set("Cache-Control", "no-store");
  response.send() << body;
}

// Reads the body: at most max_body bytes, within the request deadline.
ApiResult<std::string> readBody(HTTPServerRequest& request, int max_body,
                                std::chrono::steady_clock::time_point deadline) {
  if (request.hasContentLength() && request.getContentLength64() > max_body)
    return apiError(ApiCode::kPayloadTooLarge, "body larger than " + std::to_string(max_body) + " bytes");
  std::string body;
  char buffer[4096];
  std::istream& in = request.stream();
  while (in) {
    in.read(buffer, sizeof buffer);
    body.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (body.size() > static_cast<std::size_t>(max_body))  // chunked bodies have no length up front
      return apiError(ApiCode::kPayloadTooLarge, "body larger than " + std::to_string(max_body) + " bytes");
    if (std::chrono::steady_clock::now() > deadline)
      return apiError(ApiCode::kRequestTimeout, "request not received in time");
  }
  return body;
}

bool hasBody(const HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() || (request.hasContentLength() && request.getContentLength64() > 0);
}

// One request, from its headers to its answer.
class Request {
 public:
  Request(ApiContext& c, ConnectionGuard::Entry& connection, HTTPServerRequest& request)
      : c_(c), connection_(connection), request_(request) {}

  ApiResult<JsonPtr> answer(std::chrono::steady_clock::time_point started) {
    const auto deadline = started + c_.guard.requestTimeout();
    const std::string source = request_.clientAddress().host().toString();
    if (!c_.per_source.allow(source, std::time(nullptr))) return apiError(ApiCode::kRateLimited, "too many requests");
    const std::string& method = request_.getMethod();
    const std::string path = request_.getURI();
    const bool get = method == "GET", post = method == "POST";
    const JsonRoute* route = nullptr;
    for (const auto& r : jsonRoutes())
      if (path == r.path) route = &r;
    std::string body;
    if (route && post) {
      auto read = readBody(request_, c_.config.max_body, deadline);
      connection_.requestIn();
      if (connection_.timedOut()) return apiError(ApiCode::kRequestTimeout, "request not received in time");
      if (!read) return read.error();
      body_drained_ = true;
      body = std::move(read).value();
    }
    connection_.requestIn();
    // The request is in: from here it holds one of gateway.max_threads permits.
    if (!c_.guard.acquireWorker(deadline)) return apiError(ApiCode::kOverloaded, "no worker free in time");
    struct Permit {
      ConnectionGuard& guard;
      ~Permit() { guard.releaseWorker(); }
    } permit{c_.guard};
    if (!c_.engine.ready())
      return apiError(ApiCode::kSignerUnavailable, "starting: the signer has not recorded the gateway's start yet");
    if (path == "/healthz") return get ? c_.engine.health() : apiError(ApiCode::kMethodNotAllowed, "");
#ifdef MPAY_TEST_HOOKS
    // Test builds only: prove the sandbox from inside the gateway.
    if (path == "/test/probe/syscall") {
      ::syscall(SYS_ptrace, 0, 0, 0, 0);  // seccomp kills the gateway here
      return apiError(ApiCode::kInternal, "still alive");
    }
    if (path == "/test/probe/self") {
      const sandbox::SelfReport report = sandbox::selfReport();
      JsonPtr o = new Poco::JSON::Object;
      o->set("thread_started", report.thread_started);
      o->set("clone3_errno", report.clone3_errno);
      o->set("pid", report.pid);
      return o;
    }
    if (path == "/test/probe/fork") {
      sandbox::tryFork();  // seccomp kills the gateway here
      return apiError(ApiCode::kInternal, "still alive");
    }
    if (path.rfind("/test/probe/connect?path=", 0) == 0) {
      JsonPtr o = new Poco::JSON::Object;
      o->set("errno", sandbox::tryConnectUnix(path.substr(std::string("/test/probe/connect?path=").size())));
      return o;
    }
    if (path.rfind("/test/probe/open?path=", 0) == 0) {
      const std::string target = path.substr(std::string("/test/probe/open?path=").size());
      int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC);
      const int err = fd < 0 ? errno : 0;
      if (fd >= 0) ::close(fd);
      JsonPtr o = new Poco::JSON::Object;
      o->set("errno", err);
      return o;
    }
#endif
    if (path == "/v1/platform") return get ? c_.engine.platform() : apiError(ApiCode::kMethodNotAllowed, "");
    if (!route) return apiError(ApiCode::kNotFound, "no such endpoint");
    if (!post) return apiError(ApiCode::kMethodNotAllowed, "");
    MPAY_ASSIGN_OR_RETURN(JsonFields fields, JsonFields::parse(body, route->required, route->optional));
    return (c_.engine.*route->call)(fields);
  }

  bool bodyDrained() const { return body_drained_; }

 private:
  ApiContext& c_;
  ConnectionGuard::Entry& connection_;
  HTTPServerRequest& request_;
  bool body_drained_ = false;  // readBody read the whole body
};

}  // namespace

void serveRequest(ApiContext& c, ConnectionGuard::Entry& connection, HTTPServerRequest& request,
                  HTTPServerResponse& response) {
  const auto id = g_request_ids++;
  const auto started = std::chrono::steady_clock::now();
  Request r(c, connection, request);
  ApiResult<JsonPtr> result = apiError(ApiCode::kInternal, "");
  try {
    result = r.answer(started);
  } catch (const std::exception& e) {
    log::error("event=handler_exception request=" + std::to_string(id) + " what=\"" + e.what() + "\"");
    result = apiError(ApiCode::kInternal, "internal error");
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  const std::string outcome = result.ok() ? "ok" : std::string(apiErrorInfo(result.error().code).name);
  c.metrics.request(request.getURI(), outcome, std::chrono::duration<double>(elapsed).count());
  log::info("event=request id=" + std::to_string(id) + " method=" + request.getMethod() + " path=" +
            request.getURI() + " result=" + outcome + " ms=" + std::to_string(ms.count()));
  // One request in, at most one answer out: a body left unread (refused
  // before or while it was read) would be parsed as the next request on
  // this connection, so the connection ends with this answer.
  if ((!r.bodyDrained() && hasBody(request)) || connection.timedOut()) response.setKeepAlive(false);
  try {
    if (result.ok()) send(response, 200, toJson(*result.value()));
    else sendApiError(response, result.error());
  } catch (const std::exception& e) {
    log::warn("event=response_failed request=" + std::to_string(id) + " what=\"" + e.what() + "\"");
  }
}

void sendApiError(Poco::Net::HTTPServerResponse& response, const ApiError& e) {
  const auto& info = apiErrorInfo(e.code);
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("error", std::string(info.name));
  o.set("message", e.message.empty() ? std::string(info.meaning) : e.message);
  // The gateway's limits count in fixed minute windows: the next one starts then.
  if (e.code == ApiCode::kRateLimited) response.set("Retry-After", std::to_string(60 - std::time(nullptr) % 60));
  send(response, info.http_status, toJson(o));
}

const std::string& overloadedAnswer() {
  static const std::string kBusy = [] {
    const auto& info = apiErrorInfo(ApiCode::kOverloaded);
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("error", std::string(info.name));
    o.set("message", std::string(info.meaning));
    const std::string body = toJson(o);
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return kBusy;
}

bool ConnectionLimiter::accept(const Poco::Net::StreamSocket& socket) {
  if (!server_ || server_->currentConnections() + server_->queuedConnections() < max_) return true;
  try {
    Poco::Net::StreamSocket copy(socket);
    copy.setSendTimeout(Poco::Timespan(1, 0));
    copy.sendBytes(overloadedAnswer().data(), static_cast<int>(overloadedAnswer().size()));
  } catch (const Poco::Exception&) {
  }
  metrics_.connectionRefused();
  log::warn("event=connection_refused reason=max_connections");
  return false;
}

std::span<const JsonRoute> jsonRoutes() {
  static const JsonRoute routes[] = {
      {"/v1/register", &Engine::registerPhone, {"sealed_info1"}, {}},
      {"/v1/activate", &Engine::activate, {"phone", "registration_code"}, {}},
      {"/v1/confirm", &Engine::confirm, {"phone", "proof"}, {}},
      {"/v1/login", &Engine::login, {"phone", "c1", "c2"}, {}},
      {"/v1/pay", &Engine::pay,
       {"session_id", "order_no", "phone", "amount_minor", "currency", "counter", "timestamp", "signature"},
       {"content", "pin_ciphertext", "critical_ciphertext"}},
  };
  return routes;
}

}  // namespace mpay::gateway
