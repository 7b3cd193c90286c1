#include "hsm/token.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "common/log.h"
#include "common/signer_protocol.h"

namespace mpay::hsm {
namespace {
constexpr auto kLaneWait = std::chrono::seconds(10);

// The session itself is gone (not merely the object it read).
bool sessionGone(const Error& e) {
  return e.ckr == CKR_SESSION_HANDLE_INVALID || e.ckr == CKR_SESSION_CLOSED || e.ckr == CKR_USER_NOT_LOGGED_IN ||
         e.ckr == CKR_TOKEN_NOT_PRESENT || e.ckr == CKR_CRYPTOKI_NOT_INITIALIZED || isDeviceLost(e.ckr);
}

Error unavailable(const Error& cause) {
  Error e = fail(ErrorCode::kHsmUnavailable, "HSM unavailable: " + cause.detail);
  e.ckr = cause.ckr;
  return e;
}
}  // namespace

Result<std::unique_ptr<Token>> Token::open(const HsmConfig& config, KeyPolicy policy, int lanes) {
  if (!config.softhsm2_conf.empty()) setenv("SOFTHSM2_CONF", config.softhsm2_conf.c_str(), 1);
  MPAY_ASSIGN_OR_RETURN(Secret pin, readPinFile(config.pin_file));
  MPAY_ASSIGN_OR_RETURN(auto module, Module::load(config.module));
  MPAY_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->findSlot(config.token_uri));
  std::unique_ptr<Token> token(
      new Token(std::move(module), slot, std::move(pin), std::move(policy), lanes, config.token_uri));
  // The generations come before any lane: a lane copies the keys they name.
  MPAY_ASSIGN_OR_RETURN(Session s, token->plainSession());
  MPAY_ASSIGN_OR_RETURN(token->rotation_, readRotationState(s));
  MPAY_RETURN_IF_ERROR(checkOverlapBound(token->rotation_, static_cast<std::uint64_t>(std::time(nullptr))));
  MPAY_ASSIGN_OR_RETURN(PlatformInfo info, token->readPlatformInfo(s, token->rotation_));
  token->platform_ = std::make_shared<const PlatformInfo>(std::move(info));
  token->watch_ = std::move(s);
  token->watch_generation_ = token->generation_;
  token->state_read_at_ = std::chrono::steady_clock::now().time_since_epoch().count();
  return token;
}

// A logged-in session outside the lanes: the rotation state is read where
// no lane (whose keys it may have changed) is needed.
Result<Session> Token::plainSession() {
  MPAY_ASSIGN_OR_RETURN(Session s, Session::open(module_->fn(), slot_));
  MPAY_RETURN_IF_ERROR(s.loginUser(pin_));
  return s;
}

Result<Session*> Token::watchSession() {
  if (watch_.valid() && watch_generation_ == generation_) return &watch_;
  watch_.forget();  // died with the old module state, or failed a read
  MPAY_ASSIGN_OR_RETURN(watch_, plainSession());
  watch_generation_ = generation_;
  return &watch_;
}

Token::Token(std::unique_ptr<Module> module, CK_SLOT_ID slot, Secret pin, KeyPolicy policy, int lanes,
             std::string uri)
    : module_(std::move(module)), slot_(slot), pin_(std::move(pin)), policy_(std::move(policy)),
      uri_(std::move(uri)), slots_(static_cast<std::size_t>(lanes < 1 ? 1 : lanes)) {}

std::shared_ptr<const PlatformInfo> Token::platform() const {
  std::lock_guard lock(platform_mutex_);
  return platform_;
}

RotationState Token::rotation() const {
  std::shared_lock lock(module_mutex_);
  return rotation_;
}

Result<PlatformInfo> Token::readPlatformInfo(const Session& s, const RotationState& rotation) const {
  {
    const auto point = [&](std::uint32_t g) -> Result<Bytes> {
      MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub,
                            s.findOne(CKO_PUBLIC_KEY, policy_.generation("service", g).label));
      MPAY_ASSIGN_OR_RETURN(Bytes attr, s.attributeBytes(pub, CKA_EC_POINT));
      return ecPointFromAttribute(attr);
    };
    PlatformInfo info;
    info.service_generation = rotation.service.current;
    MPAY_ASSIGN_OR_RETURN(info.service_point, point(rotation.service.current));
    // CA generation `by`'s signature over the service key in service, if it made one.
    const auto endorsementBy = [&](std::uint32_t by) -> Result<Bytes> {
      const std::string label = endorsementLabel(policy_, rotation.service.current, by);
      MPAY_ASSIGN_OR_RETURN(bool endorsed, s.exists(CKO_DATA, label));
      if (!endorsed) return Bytes{};
      MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE e, s.findOne(CKO_DATA, label));
      return s.attributeBytes(e, CKA_VALUE);
    };
    MPAY_ASSIGN_OR_RETURN(info.service_endorsement, endorsementBy(rotation.ca.current));
    if (rotation.service.previous != 0) {
      info.previous_service_generation = rotation.service.previous;
      info.previous_service_until = rotation.service.previous_until;
      MPAY_ASSIGN_OR_RETURN(info.previous_service_point, point(rotation.service.previous));
    }
    const auto certificate = [&](const std::string& label) -> Result<Bytes> {
      MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE cert, s.findOne(CKO_CERTIFICATE, label));
      return s.attributeBytes(cert, CKA_VALUE);
    };
    const KeyGenerations& ca = rotation.ca;
    info.ca_generation = ca.current;
    MPAY_ASSIGN_OR_RETURN(info.ca_cert, certificate(policy_.generation("ca", ca.current).label));
    MPAY_ASSIGN_OR_RETURN(info.platform_identity, certificate(policy_.generation("ca", 1).label));
    info.ca_certs.push_back(info.ca_cert);
    if (ca.previous != 0) {
      info.previous_ca_generation = ca.previous;
      info.previous_ca_until = ca.previous_until;
      MPAY_ASSIGN_OR_RETURN(info.previous_ca_cert, certificate(policy_.generation("ca", ca.previous).label));
      MPAY_ASSIGN_OR_RETURN(info.previous_ca_service_endorsement, endorsementBy(ca.previous));
    }
    if (ca.next != 0) {
      MPAY_ASSIGN_OR_RETURN(Bytes next, certificate(policy_.generation("ca", ca.next).label));
      info.ca_certs.push_back(std::move(next));
    }
    for (std::uint32_t g = ca.current - 1; g >= 1 && info.ca_certs.size() < wire::kMaxCaCertificates; --g) {
      MPAY_ASSIGN_OR_RETURN(Bytes older, certificate(policy_.generation("ca", g).label));
      info.ca_certs.push_back(std::move(older));
    }
    for (std::uint32_t g = ca.current; g >= 2 && info.ca_cross_certs.size() < wire::kMaxCaLinks; --g) {
      MPAY_ASSIGN_OR_RETURN(Bytes cross, certificate(caCrossLabel(policy_, g)));
      info.ca_cross_certs.push_back(std::move(cross));
    }
    const auto receiptCert = [&](std::uint32_t g) -> Result<Bytes> {
      MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE rc,
                            s.findOne(CKO_CERTIFICATE, policy_.generation("receipt", g).label));
      return s.attributeBytes(rc, CKA_VALUE);
    };
    const KeyGenerations& receipt = rotation.receipt;
    info.receipt_generation = receipt.current;
    info.verifier_generation = rotation.verifier.current;
    info.kek_generation = rotation.kek.current;
    MPAY_ASSIGN_OR_RETURN(info.receipt_cert, receiptCert(receipt.current));
    info.receipt_certs.push_back(info.receipt_cert);
    const std::string recertified = receiptRecertificationLabel(policy_, receipt.current, ca.current);
    MPAY_ASSIGN_OR_RETURN(bool by_current_ca, s.exists(CKO_CERTIFICATE, recertified));
    if (by_current_ca) {
      MPAY_ASSIGN_OR_RETURN(Bytes again, certificate(recertified));
      info.receipt_certs.push_back(std::move(again));
    }
    if (receipt.next != 0) {
      MPAY_ASSIGN_OR_RETURN(Bytes next, receiptCert(receipt.next));
      info.receipt_certs.push_back(std::move(next));
    }
    // Retired keys leave their certificate; the newest ones are published,
    // each with the current CA's for the same key where a CA rotation made
    // one (a worker not yet moved on still signs with the previous key).
    for (std::uint32_t g = receipt.current - 1; g >= 1 && info.receipt_certs.size() < wire::kMaxReceiptCertificates; --g) {
      MPAY_ASSIGN_OR_RETURN(bool kept, s.exists(CKO_CERTIFICATE, policy_.generation("receipt", g).label));
      if (!kept) continue;
      MPAY_ASSIGN_OR_RETURN(Bytes older, receiptCert(g));
      info.receipt_certs.push_back(std::move(older));
      const std::string again_label = receiptRecertificationLabel(policy_, g, ca.current);
      MPAY_ASSIGN_OR_RETURN(bool again, s.exists(CKO_CERTIFICATE, again_label));
      if (!again || info.receipt_certs.size() >= wire::kMaxReceiptCertificates) continue;
      MPAY_ASSIGN_OR_RETURN(Bytes older_again, certificate(again_label));
      info.receipt_certs.push_back(std::move(older_again));
    }
    return info;
  }
}

Result<bool> Token::reloadIfRotated() {
  RotationState now;
  PlatformInfo info;
  {
    std::shared_lock lock(module_mutex_);  // slot_ and the module stay as they are
    std::lock_guard watching(watch_mutex_);
    MPAY_ASSIGN_OR_RETURN(Session * kept, watchSession());
    auto read = readRotationState(*kept);
    if (!read && sessionGone(read.error())) {
      // The token dropped the session (all sessions closed, a device
      // reset): once more on a new one. Forgotten, not closed, as a lane
      // forgets its own: its handle number may be another's by now. Any
      // other error (a state object that does not parse) keeps the session.
      watch_.forget();
      MPAY_ASSIGN_OR_RETURN(kept, watchSession());
      read = readRotationState(*kept);
      if (!read && sessionGone(read.error())) watch_.forget();
    }
    if (!read) return std::move(read).error();
    const Session& s = *kept;
    now = std::move(read).value();
    if (now == rotation_) {
      state_read_at_ = std::chrono::steady_clock::now().time_since_epoch().count();
      return false;
    }
    // The version only grows: an older state is a rollback (a restored or
    // edited token), refused loudly rather than followed.
    if (now.version < rotation_.version)
      return fail(ErrorCode::kPolicy, "the token's rotation state went back from version " +
                                          std::to_string(rotation_.version) + " to " + std::to_string(now.version) +
                                          ": kept the newer one");
    MPAY_RETURN_IF_ERROR(checkOverlapBound(now, static_cast<std::uint64_t>(std::time(nullptr))));
    MPAY_ASSIGN_OR_RETURN(info, readPlatformInfo(s, now));
  }
  {
    std::unique_lock lock(module_mutex_);
    rotation_ = now;
    ++keys_version_;
  }
  state_read_at_ = std::chrono::steady_clock::now().time_since_epoch().count();
  std::lock_guard lock(platform_mutex_);
  platform_ = std::make_shared<const PlatformInfo>(std::move(info));
  return true;
}

Result<std::size_t> Token::acquire() {
  std::unique_lock lock(pool_mutex_);
  std::size_t index = slots_.size();
  bool got = pool_cv_.wait_for(lock, kLaneWait, [&] {
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i].busy) {
        index = i;
        return true;
      }
    return false;
  });
  if (!got) return fail(ErrorCode::kHsmUnavailable, "all token sessions busy");
  slots_[index].busy = true;
  return index;
}

void Token::release(std::size_t index) {
  {
    std::lock_guard lock(pool_mutex_);
    slots_[index].busy = false;
  }
  pool_cv_.notify_one();
}

// Caller holds module_mutex_ shared.
Status Token::ensureLane(Slot& slot) {
  if (slot.lane && slot.generation == generation_ && slot.keys_version == keys_version_) return {};
  if (slot.lane && slot.generation != generation_) slot.lane->abandon();  // its session died with the old module state
  slot.lane.reset();  // after a rotation: closed, with its session copies of the old generations
  MPAY_ASSIGN_OR_RETURN(slot.lane, Lane::open(module_->fn(), slot_, pin_, policy_, rotation_));
  slot.generation = generation_;
  slot.keys_version = keys_version_;
  return {};
}

Status Token::resetModule(std::uint64_t seen_generation) {
  std::unique_lock lock(module_mutex_);
  if (generation_ != seen_generation) return {};  // another thread already did it
  log::warn("event=hsm_reset reason=device_lost");
  MPAY_RETURN_IF_ERROR(module_->reinitialize());
  ++generation_;
  MPAY_ASSIGN_OR_RETURN(slot_, module_->findSlot(uri_));
  return {};
}

Status Token::run(const std::function<Status(Lane&)>& fn) {
  // A worker whose rotation state is older than the watch's period (it was
  // stopped, or its reads failed) reads it before it makes anything under
  // a generation a rotation step may have moved on from.
  const auto read_at = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(state_read_at_.load()));
  if (std::chrono::steady_clock::now() - read_at > kStateMaxAge) (void)reloadIfRotated();
  MPAY_ASSIGN_OR_RETURN(std::size_t index, acquire());
  struct Releaser {
    Token* t;
    std::size_t i;
    ~Releaser() { t->release(i); }
  } releaser{this, index};
  Slot& slot = slots_[index];

  Error last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t seen = 0;
    Status result;
    {
      std::shared_lock lock(module_mutex_);
      seen = generation_;
      Status ready = ensureLane(slot);
      result = ready.ok() ? fn(*slot.lane) : ready;
    }
    if (result.ok()) {
      if (attempt > 0) log::info("event=hsm_recovered");
      health_ = Health::kHealthy;
      return {};
    }
    last = result.error();
    if (last.code != ErrorCode::kHsmUnavailable) return last;  // an answer, not an outage
    health_ = Health::kDegraded;
    log::warn("event=hsm_lost detail=\"" + last.detail + "\"");
    if (isDeviceLost(last.ckr) || last.ckr == CKR_TOKEN_NOT_PRESENT) {
      Status reset = resetModule(seen);
      if (!reset.ok()) last = reset.error();
    } else {
      std::shared_lock lock(module_mutex_);
      if (slot.lane) slot.lane->abandon();
      slot.lane.reset();
    }
  }
  health_ = Health::kDown;
  return unavailable(last);
}

}  // namespace mpay::hsm
