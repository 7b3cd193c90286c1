#include "gateway/engine.h"

#include "common/log.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

JsonPtr object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

std::string codeHash(std::string_view code) { return hexEncode(suite::sha256(asBytes(code))); }

ApiError signerRefusal(const Error& e, const char* op) {
  log::warn(std::string("event=signer_refused op=") + op + " code=" + std::string(errorName(e.code)));
  return fromSignerError(e);
}

}  // namespace

Engine::Engine(const GatewayConfig& config, Store& store, SignerPool& signer, Notifier& notifier,
               AcquirerConnector& acquirer, std::function<std::int64_t()> now)
    : config_(config), store_(store), signer_(signer), notifier_(notifier), acquirer_(acquirer),
      now_(std::move(now)), per_phone_(config.rate_per_phone) {}

ApiStatus Engine::limitPhone(const std::string& phone) {
  if (!per_phone_.allow(phone, now_())) return apiError(ApiCode::kRateLimited, "too many requests for this phone");
  return {};
}

ApiStatus Engine::checkFresh(std::uint64_t timestamp) const {
  const auto now = now_();
  const auto ts = static_cast<std::int64_t>(timestamp);
  if (ts < now - config_.replay_window || ts > now + config_.replay_window)
    return apiError(ApiCode::kStaleRequest, "timestamp outside the replay window");
  return {};
}

ApiResult<JsonPtr> Engine::platform() {
  std::lock_guard lock(platform_mutex_);
  if (!platform_) {
    auto info = signer_.call<wire::PlatformInfoResponse>([](SignerClient& c) { return c.platformInfo(); });
    if (!info) return signerRefusal(info.error(), "platform_info");
    platform_ = info.value();
  }
  JsonPtr o = object();
  o->set("suite", platform_->suite);
  o->set("service_public_key", base64url(platform_->service_point));
  o->set("ca_certificate", base64url(platform_->ca_cert));
  o->set("receipt_certificate", base64url(platform_->receipt_cert));
  return o;
}

ApiResult<JsonPtr> Engine::registerPhone(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(Bytes sealed, body.bytes("sealed_info1", wire::kMaxSealed));
  auto opened = signer_.call<wire::OpenRegistrationResponse>(
      [&](SignerClient& c) { return c.openRegistration({sealed}); });
  if (!opened) return signerRefusal(opened.error(), "open_registration");
  const auto& r = opened.value();
  MPAY_RETURN_IF_ERROR(limitPhone(r.phone));
  MPAY_ASSIGN_OR_RETURN(bool exists, store_.userExists(r.phone));
  if (exists) return apiError(ApiCode::kAlreadyRegistered, "this phone is already registered");

  PendingRegistration pending{r.phone,
                              codeHash(r.registration_code),
                              r.registration_file,
                              {r.certificate, r.salt, r.password_verifier, r.pin_verifier, r.identity},
                              0,
                              now_() + config_.registration_ttl};
  MPAY_RETURN_IF_ERROR(store_.putRegistration(pending));
  // S07: the confirmation code goes out of band; a failed delivery is retried.
  OutboxMessage message{hexEncode(suite::randomBytes(16)), r.phone, r.confirmation_code};
  MPAY_RETURN_IF_ERROR(store_.addOutbox(message, now_()));
  if (auto delivered = notifier_.deliver(message); delivered.ok()) {
    MPAY_RETURN_IF_ERROR(store_.markDelivered(message.id, now_()));
  } else {
    log::warn("event=confirmation_delivery_failed detail=\"" + delivered.error().detail + "\"");
  }
  JsonPtr o = object();
  o->set("registration_code", r.registration_code);
  o->set("expires_at", pending.expires_at);
  return o;
}

ApiResult<JsonPtr> Engine::activate(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(std::string phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(std::string code, body.text("registration_code", 32));
  if (!suite::validPhone(phone)) return apiError(ApiCode::kBadField, "'phone' is not E.164");
  MPAY_RETURN_IF_ERROR(limitPhone(phone));
  MPAY_ASSIGN_OR_RETURN(auto pending, store_.findRegistration(phone));
  if (!pending) return apiError(ApiCode::kUnknownRegistration, "no pending registration");
  if (now_() >= pending->expires_at) return apiError(ApiCode::kRegistrationExpired, "registration code expired");
  if (pending->attempts >= config_.max_code_attempts)
    return apiError(ApiCode::kRegistrationLocked, "too many wrong codes; register again");
  if (!constantTimeEqual(asBytes(codeHash(code)), asBytes(pending->code_hash))) {
    MPAY_RETURN_IF_ERROR(store_.countCodeAttempt(phone));
    return apiError(ApiCode::kBadRegistrationCode, "wrong registration code");
  }
  MPAY_ASSIGN_OR_RETURN(bool exists, store_.userExists(phone));
  if (exists) return apiError(ApiCode::kAlreadyRegistered, "this phone is already registered");
  MPAY_ASSIGN_OR_RETURN(bool moved, store_.activate(phone, now_()));
  if (!moved) return apiError(ApiCode::kUnknownRegistration, "no pending registration");
  JsonPtr o = object();
  o->set("registration_file", base64url(pending->registration_file));
  return o;
}

ApiResult<JsonPtr> Engine::login(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(std::string phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(Bytes c1, body.bytes("c1", wire::kMaxSealed));
  MPAY_ASSIGN_OR_RETURN(Bytes c2, body.bytes("c2", 256));
  if (!suite::validPhone(phone)) return apiError(ApiCode::kBadField, "'phone' is not E.164");
  MPAY_RETURN_IF_ERROR(limitPhone(phone));
  MPAY_ASSIGN_OR_RETURN(auto user, store_.findUser(phone));
  if (!user) return apiError(ApiCode::kBadCredentials, "unknown phone or wrong password");
  if (user->login_locked_until > now_()) return apiError(ApiCode::kAccountLocked, "account locked");

  const auto& cred = user->credentials;
  wire::OpenLoginRequest request{cred.certificate, cred.salt, cred.password_verifier, c1, c2};
  auto opened = signer_.call<wire::OpenLoginResponse>([&](SignerClient& c) { return c.openLogin(request); });
  if (!opened) {
    if (opened.error().code == ErrorCode::kBadPassword)
      MPAY_RETURN_IF_ERROR(store_.recordLoginFailure(phone, now_() + config_.lockout_seconds, config_.lockout_threshold));
    return signerRefusal(opened.error(), "open_login");
  }
  const auto& r = opened.value();
  if (r.phone != phone) return apiError(ApiCode::kBadField, "phone differs from the signed one");
  MPAY_RETURN_IF_ERROR(checkFresh(r.timestamp));
  MPAY_ASSIGN_OR_RETURN(bool fresh, store_.rememberNonce(phone, r.nonce, now_(), now_() - 2 * config_.replay_window));
  if (!fresh) return apiError(ApiCode::kReplayedRequest, "login nonce already used");
  MPAY_RETURN_IF_ERROR(store_.clearLoginFailures(phone));
  MPAY_RETURN_IF_ERROR(store_.putSession(
      SessionRow{r.session_id, phone, r.wrapped_keys, static_cast<std::int64_t>(r.expires_at), 0}));
  JsonPtr o = object();
  o->set("session_id", base64url(r.session_id));
  o->set("sealed_keys", base64url(r.sealed_keys));
  o->set("expires_at", r.expires_at);
  return o;
}

}  // namespace mpay::gateway
