#include "gateway/engine.h"

#include <Poco/JSON/Array.h>

#include "common/log.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

// How long a count for a number without a user is kept when it never locked.
constexpr std::int64_t kGuessesWithoutUserKeptSeconds = 86400;

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

ApiResult<wire::PlatformInfoResponse> Engine::platformInfo() {
  static constexpr auto kPlatformRefresh = std::chrono::seconds(5);
  {
    // One thread asks the signer; the others answer from the copy meanwhile
    // (a slow signer must not queue every GET /v1/platform behind it).
    std::lock_guard lock(platform_mutex_);
    const bool fresh = platform_ && std::chrono::steady_clock::now() - platform_fetched_ < kPlatformRefresh;
    if (fresh || (platform_ && platform_refreshing_)) return *platform_;
    platform_refreshing_ = true;
  }
  auto info = signer_.call<wire::PlatformInfoResponse>([](SignerClient& c) { return c.platformInfo(); });
  std::lock_guard lock(platform_mutex_);
  platform_refreshing_ = false;
  if (info) {
    platform_ = std::move(info).value();
    platform_fetched_ = std::chrono::steady_clock::now();
  }
  if (!platform_) return signerRefusal(info.error(), "platform_info");
  return *platform_;
}

ApiResult<JsonPtr> Engine::platform() {
  MPAY_ASSIGN_OR_RETURN(wire::PlatformInfoResponse info, platformInfo());
  JsonPtr o = object();
  o->set("suite", info.suite);
  o->set("service_public_key", base64url(info.service_point));
  o->set("ca_certificate", base64url(info.ca_cert));
  o->set("receipt_certificate", base64url(info.receipt_cert));
  // Every service key the platform opens with, the one to use first; during
  // a rotation's overlap the previous one too, with the end of its overlap.
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  JsonPtr current = object();
  current->set("generation", info.service_generation);
  current->set("public_key", base64url(info.service_point));
  if (!info.service_endorsement.empty()) current->set("ca_signature", base64url(info.service_endorsement));
  keys->add(current);
  // Not past the end of its overlap, even while the signer cannot be asked again.
  if (!info.previous_service_point.empty() && now_() < static_cast<std::int64_t>(info.previous_service_until)) {
    JsonPtr previous = object();
    previous->set("generation", info.previous_service_generation);
    previous->set("public_key", base64url(info.previous_service_point));
    previous->set("accepted_until", info.previous_service_until);
    keys->add(previous);
  }
  o->set("service_public_keys", keys);
  // Every receipt certificate a phone may meet: the one receipts are signed
  // with first, then one a rotation has begun (published before it signs),
  // then older ones, so that receipts signed before a rotation still verify.
  Poco::JSON::Array::Ptr receipts = new Poco::JSON::Array;
  auto listed = wire::decodeCertificateList(info.receipt_certificates);
  if (!listed || listed->empty() || listed->front() != info.receipt_cert)
    return apiError(ApiCode::kInternal, "the signer's receipt certificate list does not start with its receipt certificate");
  for (const auto& der : listed.value()) receipts->add(base64url(der));
  o->set("receipt_certificates", receipts);
  // After a CA rotation: the cross certificates that join each CA
  // generation to the one before it, newest first (docs/protocol.md §7.1).
  o->set("ca_generation", info.ca_generation);
  auto links = wire::decodeCertificateList(info.ca_cross_certificates);
  if (!links || links->size() > wire::kMaxCaLinks)
    return apiError(ApiCode::kInternal, "the signer's CA cross certificates do not parse");
  Poco::JSON::Array::Ptr cross = new Poco::JSON::Array;
  for (const auto& der : links.value()) cross->add(base64url(der));
  o->set("ca_cross_certificates", cross);
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
                              {r.certificate, r.salt, r.password_verifier, r.pin_verifier, r.identity,
                               static_cast<std::int64_t>(r.verifier_generation),
                               static_cast<std::int64_t>(r.verifier_generation),
                               static_cast<std::int64_t>(r.kek_generation)},
                              0,
                              now_() + config_.registration_ttl,
                              hexEncode(suite::sha256(r.confirmation_proof)),
                              0};
  MPAY_RETURN_IF_ERROR(store_.putRegistration(pending));
  MPAY_RETURN_IF_ERROR(queueConfirmationCode(r.phone, r.confirmation_code, pending.expires_at));
  JsonPtr o = object();
  o->set("registration_code", r.registration_code);
  o->set("expires_at", pending.expires_at);
  return o;
}

// S07: the registration file for the registration code, as often as the
// phone needs it (a lost answer), within the attempt limit and the TTL. An
// unknown number, a wrong code and a used-up registration answer alike.
ApiResult<JsonPtr> Engine::activate(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(std::string phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(std::string code, body.text("registration_code", 32));
  if (!suite::validPhone(phone)) return apiError(ApiCode::kBadField, "'phone' is not E.164");
  MPAY_RETURN_IF_ERROR(limitPhone(phone));
  const ApiError refused = apiError(ApiCode::kBadRegistrationCode, "wrong registration code, or none pending");
  MPAY_ASSIGN_OR_RETURN(bool spent, store_.spendCodeAttempt(phone, config_.max_code_attempts));
  if (!spent) return refused;
  MPAY_ASSIGN_OR_RETURN(auto pending, store_.findRegistration(phone));
  if (!pending || !constantTimeEqual(asBytes(codeHash(code)), asBytes(pending->code_hash))) return refused;
  if (now_() >= pending->expires_at) return apiError(ApiCode::kRegistrationExpired, "registration code expired");
  JsonPtr o = object();
  o->set("registration_file", base64url(pending->registration_file));
  return o;
}

// Activation ends here: the phone proves it holds the SMS confirmation code
// (docs/protocol.md §4), and only then is the user active.
ApiResult<JsonPtr> Engine::confirm(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(std::string phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(Bytes proof, body.bytes("proof", suite::kHmacLen));
  if (!suite::validPhone(phone)) return apiError(ApiCode::kBadField, "'phone' is not E.164");
  if (proof.size() != suite::kHmacLen) return apiError(ApiCode::kBadField, "'proof' must be 32 bytes");
  MPAY_RETURN_IF_ERROR(limitPhone(phone));
  const ApiError refused = apiError(ApiCode::kBadConfirmation, "wrong confirmation proof, or none pending");
  MPAY_ASSIGN_OR_RETURN(bool spent, store_.spendConfirmAttempt(phone, config_.max_code_attempts));
  if (!spent) return refused;
  MPAY_ASSIGN_OR_RETURN(auto pending, store_.findRegistration(phone));
  const std::string proof_hash = hexEncode(suite::sha256(proof));
  if (!pending || pending->proof_hash.empty() ||
      !constantTimeEqual(asBytes(proof_hash), asBytes(pending->proof_hash)))
    return refused;
  if (now_() >= pending->expires_at) return apiError(ApiCode::kRegistrationExpired, "registration expired");
  MPAY_ASSIGN_OR_RETURN(bool moved, store_.confirmRegistration(phone, now_()));
  if (!moved) return refused;
  log::info("event=registration_confirmed");
  JsonPtr o = object();
  o->set("status", "active");
  return o;
}

Result<wire::OpenLoginResponse> Engine::openLogin(const UserCredentials& cred, const Bytes& c1, const Bytes& c2,
                                                 bool check_only) {
  wire::OpenLoginRequest request{cred.certificate,
                                 cred.salt,
                                 cred.password_verifier,
                                 c1,
                                 c2,
                                 static_cast<std::uint8_t>(check_only ? 1 : 0),
                                 static_cast<std::uint64_t>(cred.password_verifier_generation)};
  return signer_.call<wire::OpenLoginResponse>([&](SignerClient& c) { return c.openLogin(request); });
}

// Whatever a login carries (a C2 or C1 that does not open, a signature by
// another key, a wrong password) answers as an unknown phone does.
ApiError Engine::loginRefusal(const Error& e) {
  switch (e.code) {
    case ErrorCode::kBadPassword:
    case ErrorCode::kBadSignature:
    case ErrorCode::kMismatch:
    case ErrorCode::kDecryptFailed:
    case ErrorCode::kBadField:
      log::warn(std::string("event=signer_refused op=open_login code=") + std::string(errorName(e.code)));
      return apiError(ApiCode::kBadCredentials, "unknown phone or wrong password");
    default:
      return signerRefusal(e, "open_login");
  }
}

// A number with no user: counted and locked like a user's password, and the
// signer does the work of a known number's login signed by a foreign key,
// against the decoy credential (an empty certificate) or, for a registration
// whose SMS was never proven, its credentials: there the right password
// answers registration_unconfirmed (no session) and each try also spends
// one of the registration's attempts.
ApiResult<JsonPtr> Engine::loginWithoutUser(const std::string& phone, const std::optional<PendingRegistration>& pending,
                                            const Bytes& c1, const Bytes& c2) {
  bool unconfirmed = false;
  if (pending && !pending->proof_hash.empty()) {
    MPAY_ASSIGN_OR_RETURN(unconfirmed, store_.spendCodeAttempt(phone, config_.max_code_attempts));
  }
  const UserCredentials nobody{{}, Bytes(suite::kSaltLen), Bytes(32), {}, {}};
  // Unconfirmed: the signer checks the login but opens no session and does
  // not give the number to this key (that waits for the SMS proof).
  auto opened = openLogin(unconfirmed ? pending->credentials : nobody, c1, c2, true);
  if (!opened) {
    if (opened.error().code != ErrorCode::kBadPassword)
      MPAY_RETURN_IF_ERROR(store_.returnAttempt(Guess::kPasswordWithoutUser, phone, config_.lockout_threshold));
    return loginRefusal(opened.error());
  }
  MPAY_RETURN_IF_ERROR(store_.clearAttempts(Guess::kPasswordWithoutUser, phone));
  return apiError(ApiCode::kRegistrationUnconfirmed, "finish activation: prove the SMS confirmation code");
}

// The signer made a verifier again under the current verifier key (the
// secret was right and its verifier older). Kept if the stored one is still
// the one it replaces; if not kept, the next login or payment renews it.
void Engine::keepRenewedVerifier(Store::Verifier which, const std::string& phone, const Bytes& old,
                                 const Bytes& renewed, std::uint64_t generation) {
  if (generation == 0 || renewed.size() != 32) return;
  auto kept = store_.renewVerifier(which, phone, old, renewed, static_cast<std::int64_t>(generation));
  const char* what = which == Store::Verifier::kPassword ? "password" : "pin";
  if (!kept)
    log::warn(std::string("event=verifier_renewal_failed which=") + what + " detail=\"" + kept.error().message + "\"");
  else if (kept.value())
    log::info(std::string("event=verifier_renewed which=") + what + " generation=" + std::to_string(generation));
}

int Engine::rewrapIdentities(int limit) {
  auto platform = platformInfo();
  if (!platform) return 0;
  const auto current = static_cast<std::int64_t>(platform.value().kek_generation);
  // Passes go through the users in phone order and start again at the end,
  // so a record that does not open is passed over, not retried every pass.
  auto sealed = store_.identitiesToRewrap(current, rewrap_after_, limit);
  if (!sealed) return 0;
  rewrap_after_ = sealed->size() < static_cast<std::size_t>(limit) ? "" : sealed->back().phone;
  int done = 0;
  for (const auto& record : sealed.value()) {
    wire::RewrapIdentityRequest request{record.phone, record.identity, static_cast<std::uint64_t>(record.generation)};
    auto renewed = signer_.call<wire::RewrapIdentityResponse>([&](SignerClient& c) { return c.rewrapIdentity(request); });
    if (!renewed) {
      // A record that does not open (or names a KEK the token lacks) stays
      // counted, and keeps the old KEK from being retired: an operator's matter.
      log::warn("event=identity_rewrap_failed code=" + std::string(errorName(renewed.error().code)));
      const ErrorCode code = renewed.error().code;
      if (code == ErrorCode::kDecryptFailed || code == ErrorCode::kBadField) continue;
      rewrap_after_.clear();
      break;  // the signer or the token: the next pass tries again
    }
    auto kept = store_.rewrapIdentity(record.phone, record.identity, renewed->identity,
                                      static_cast<std::int64_t>(renewed->generation));
    if (kept.ok() && kept.value()) ++done;
  }
  if (done > 0) log::info("event=identities_rewrapped count=" + std::to_string(done) + " kek_generation=" +
                          std::to_string(current));
  return done;
}

void Engine::purgeGuessesWithoutUser() {
  (void)store_.purgeGuessesWithoutUser(now_(), now_() - kGuessesWithoutUserKeptSeconds);
}

ApiResult<JsonPtr> Engine::login(const JsonFields& body) {
  MPAY_ASSIGN_OR_RETURN(std::string phone, body.text("phone", 16));
  MPAY_ASSIGN_OR_RETURN(Bytes c1, body.bytes("c1", wire::kMaxSealed));
  MPAY_ASSIGN_OR_RETURN(Bytes c2, body.bytes("c2", 256));
  if (!suite::validPhone(phone)) return apiError(ApiCode::kBadField, "'phone' is not E.164");
  MPAY_RETURN_IF_ERROR(limitPhone(phone));
  MPAY_ASSIGN_OR_RETURN(auto user, store_.findUser(phone));
  // Read for every login, not only for a number without a user: one read
  // more on one side only was measurable (docs/threat-model.md).
  MPAY_ASSIGN_OR_RETURN(auto pending, store_.findRegistration(phone));
  // C1 is authenticated under the phone's fresh K: its bytes name one login
  // attempt. They are spent, with an attempt at the password (the user's, or
  // the count of a number without one, alike), before the password is
  // checked, so a captured login (even one with a wrong password) replays
  // as replayed_request.
  const Guess guess = user ? Guess::kPassword : Guess::kPasswordWithoutUser;
  const std::int64_t keep_after = now_() - 2 * config_.replay_window;
  Store::LoginStartRequest start{guess,      phone, suite::sha256(c1), now_(), keep_after, now_() + config_.lockout_seconds,
                                 config_.lockout_threshold};
  MPAY_ASSIGN_OR_RETURN(auto started, store_.startLogin(start));
  if (started == Store::LoginStart::kReplayed) return apiError(ApiCode::kReplayedRequest, "login request already used");
  if (started == Store::LoginStart::kLocked) return apiError(ApiCode::kAccountLocked, "account locked");
  if (!user) return loginWithoutUser(phone, pending, c1, c2);

  auto opened = openLogin(user->credentials, c1, c2, false);
  if (!opened) {
    // A wrong password keeps its attempt spent; any other refusal never reached the password.
    if (opened.error().code != ErrorCode::kBadPassword)
      MPAY_RETURN_IF_ERROR(store_.returnAttempt(Guess::kPassword, phone, config_.lockout_threshold));
    return loginRefusal(opened.error());
  }
  const auto& r = opened.value();
  // The password was right: from here on its count is cleared, whatever the answer.
  auto refuse = [&](ApiError e) -> ApiResult<JsonPtr> {
    MPAY_RETURN_IF_ERROR(store_.clearAttempts(Guess::kPassword, phone));
    return e;
  };
  if (r.phone != phone) return refuse(apiError(ApiCode::kBadField, "phone differs from the signed one"));
  if (auto fresh = checkFresh(r.timestamp); !fresh.ok()) return refuse(std::move(fresh).error());
  auto stored = store_.finishLogin(Guess::kPassword, phone, r.nonce, now_(), keep_after,
                                   SessionRow{r.session_id, phone, r.wrapped_keys,
                                              static_cast<std::int64_t>(r.expires_at), 0,
                                              static_cast<std::int64_t>(r.kek_generation)});
  if (!stored) return refuse(std::move(stored).error());
  if (!stored.value()) return refuse(apiError(ApiCode::kReplayedRequest, "login nonce already used"));
  keepRenewedVerifier(Store::Verifier::kPassword, phone, user->credentials.password_verifier, r.password_verifier,
                      r.verifier_generation);
  JsonPtr o = object();
  o->set("session_id", base64url(r.session_id));
  o->set("sealed_keys", base64url(r.sealed_keys));
  o->set("expires_at", r.expires_at);
  return o;
}

}  // namespace mpay::gateway
