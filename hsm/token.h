// The token as the signer uses it: a module, a slot chosen by URI, a pool of
// lanes, the public platform data (read at start and again after a key
// rotation step: reloadIfRotated), and recovery. When a call fails
// because the session or device went away, the lane is rebuilt (after a
// device error the module is re-initialised first) and the call retried
// once; while that fails the caller gets kHsmUnavailable, and the next call
// tries again, so the signer heals without a restart.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "common/config.h"
#include "hsm/key_policy.h"
#include "hsm/lane.h"
#include "hsm/module.h"
#include "hsm/rotation.h"

namespace mpay::hsm {

enum class Health : std::uint8_t { kHealthy = 0, kDegraded = 1, kDown = 2 };

struct PlatformInfo {
  Bytes service_point;  // uncompressed P-256 point of the service key's current generation
  Bytes ca_cert;        // DER, the CA generation that issues certificates now
  Bytes receipt_cert;   // DER, the generation receipts are signed with now
  std::uint32_t service_generation = 1;
  // The CA's signature (DER) over serviceKeyEndorsementBytes of the current
  // generation; empty for generation 1, which phones take at registration.
  Bytes service_endorsement;
  std::uint32_t receipt_generation = 1;
  std::uint32_t verifier_generation = 1;  // new verifiers are made under it
  std::uint32_t kek_generation = 1;       // new blobs are sealed under it
  // Every receipt certificate in the token: receipt_cert first, then the
  // current CA's certificate for the same key if a CA rotation made one,
  // then the next generation's (published before it signs), then the older
  // ones (receipts signed before keep verifying until their certificate
  // expires).
  std::vector<Bytes> receipt_certs;
  // During a rotation's overlap: the generation phones may still seal to, until when.
  Bytes previous_service_point;  // empty when there is none
  std::uint32_t previous_service_generation = 0;
  std::uint64_t previous_service_until = 0;
  std::uint32_t ca_generation = 1;
  // For a few seconds after a CA switch (until previous_ca_until) phones
  // are still shown the previous CA, with its signature over the service
  // key: a worker that has not taken the switch yet issues under it, and a
  // phone that registers then must not trust only the new one. Certificates
  // the new CA issues meanwhile chain to it through the cross certificate.
  Bytes previous_ca_cert;  // empty when there is none
  std::uint32_t previous_ca_generation = 0;
  std::uint64_t previous_ca_until = 0;
  Bytes previous_ca_service_endorsement;
  // Every CA certificate on the token (ca_cert first, then a begun one, then
  // older ones, at most wire::kMaxCaCertificates): user certificates of any
  // of them are honoured until they expire. A retired CA leaves its
  // certificate; only its key goes.
  std::vector<Bytes> ca_certs;
  // The cross certificates of each CA rotation up to ca_generation, newest
  // first, at most wire::kMaxCaLinks (hsm::caCrossLabel): phones follow the
  // CA through them.
  std::vector<Bytes> ca_cross_certs;
  // The generation-1 CA certificate: which platform this is. A number's
  // owner is bound under it (no CA rotation changes it; a new platform does).
  Bytes platform_identity;
};

class Token {
 public:
  static Result<std::unique_ptr<Token>> open(const HsmConfig& config, KeyPolicy policy, int lanes);

  // Runs fn on a free lane, with recovery and one retry (see above).
  Status run(const std::function<Status(Lane&)>& fn);
  template <typename T>
  Result<T> call(const std::function<Result<T>(Lane&)>& fn) {
    std::optional<Result<T>> out;
    Status s = run([&](Lane& lane) -> Status {
      out.emplace(fn(lane));
      if (!out->ok()) return out->error();
      return {};
    });
    if (!s.ok()) return std::move(s).error();
    return std::move(*out);
  }

  Health health() const { return health_.load(); }
  // A snapshot: a rotation replaces it while handlers hold the old one.
  std::shared_ptr<const PlatformInfo> platform() const;
  RotationState rotation() const;
  // Reads the token's rotation state; when its version changed, takes the
  // new platform data and has every lane reopen (with the new generations)
  // before its next use. True if it changed. Signer workers call it every
  // few seconds; `mpay-admin rotate` waits that long between steps.
  Result<bool> reloadIfRotated();
  const KeyPolicy& policy() const { return policy_; }
  CK_FUNCTION_LIST* functions() const { return module_->fn(); }
  CK_SLOT_ID slot() const { return slot_; }

 private:
  struct Slot {
    std::unique_ptr<Lane> lane;
    std::uint64_t generation = 0;
    std::uint64_t keys_version = 0;
    bool busy = false;
  };
  Token(std::unique_ptr<Module> module, CK_SLOT_ID slot, Secret pin, KeyPolicy policy, int lanes, std::string uri);
  Result<std::size_t> acquire();
  void release(std::size_t index);
  Status ensureLane(Slot& slot);
  Status resetModule(std::uint64_t seen_generation);
  Result<Session> plainSession();
  // Caller holds module_mutex_ shared and watch_mutex_.
  Result<Session*> watchSession();
  Result<PlatformInfo> readPlatformInfo(const Session& s, const RotationState& rotation) const;

  std::unique_ptr<Module> module_;
  CK_SLOT_ID slot_;
  Secret pin_;
  KeyPolicy policy_;
  std::string uri_;
  mutable std::mutex platform_mutex_;
  std::shared_ptr<const PlatformInfo> platform_;  // guarded by platform_mutex_
  RotationState rotation_;                        // guarded by module_mutex_ (lanes open with it)
  std::uint64_t keys_version_ = 1;                // bumped by a rotation; guarded by module_mutex_
  std::atomic<Health> health_{Health::kHealthy};
  // Kept open for the token's life: the rotation watch reads through it, and
  // while it is open the token stays logged in. SoftHSM2 rewrites its
  // token.object in place at every C_Login that is not "already logged in";
  // a login every poll would put the token one badly timed kill away from
  // unreadable.
  std::mutex watch_mutex_;
  Session watch_;                       // guarded by watch_mutex_
  std::uint64_t watch_generation_ = 0;  // the module generation watch_ was opened in
  // When the rotation state was last read (steady clock ticks): run() reads
  // it first when it is older than kStateMaxAge (the watch polls every 2 s).
  std::atomic<std::int64_t> state_read_at_{0};
  static constexpr auto kStateMaxAge = std::chrono::seconds(4);

  mutable std::shared_mutex module_mutex_;  // exclusive while the module is re-initialised
  std::uint64_t generation_ = 1;   // bumped by every module reset; guarded by module_mutex_
  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<Slot> slots_;
};

}  // namespace mpay::hsm
