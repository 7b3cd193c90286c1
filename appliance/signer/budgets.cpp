#include "signer/budgets.h"

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "signer/robust_mutex.h"
#include "suite/primitives.h"

namespace mpay::signer {
namespace {

constexpr std::size_t kMaxGrants = 64;
constexpr std::size_t kProbe = 16;

struct Bucket {
  double tokens = 0;
  std::int64_t updated_ns = 0;
};

struct UserBucket {
  std::uint64_t key = 0;  // 0: free
  std::size_t grant = 0;
  Bucket bucket;
};

// Refills for the time since the last call, then takes one token if there is one.
bool takeFrom(Bucket& b, const Budget& budget, std::int64_t now_ns) {
  const double capacity = budget.count;
  const double per_ns = capacity / (static_cast<double>(budget.seconds) * 1e9);
  const double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ns - b.updated_ns));
  b.tokens = std::min(capacity, b.tokens + elapsed * per_ns);
  b.updated_ns = now_ns;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

// Idle for a whole period: the bucket would be full again, as in a free slot.
bool refilled(const UserBucket& slot, const std::vector<OpsGrant>& grants, std::int64_t now_ns) {
  const std::int64_t period = static_cast<std::int64_t>(grants[slot.grant].per_user.seconds) * 1'000'000'000;
  return now_ns - slot.bucket.updated_ns >= period;
}

std::uint64_t userKey(std::size_t grant, ByteView user) {
  Bytes input{static_cast<std::uint8_t>(grant)};
  input.insert(input.end(), user.begin(), user.end());
  const Bytes digest = suite::sha256(input);
  std::uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[i];
  return key ? key : 1;
}

}  // namespace

struct Budgets::Shared {
  pthread_mutex_t mutex;
  Bucket grants[kMaxGrants];
  UserBucket users[kUserSlots];
};

std::int64_t monotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Result<std::unique_ptr<Budgets>> Budgets::create(const OpsPolicy& policy) {
  if (policy.grants.size() > kMaxGrants) return fail(ErrorCode::kPolicy, policy.file + ": more than 64 grants");
  void* memory = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return fail(ErrorCode::kIo, std::string("mmap budgets: ") + std::strerror(errno));
  auto* shared = new (memory) Shared{};
  if (auto made = initRobustMutex(&shared->mutex); !made.ok()) {
    munmap(memory, sizeof(Shared));
    return std::move(made).error();
  }
  // Every bucket starts full.
  const std::int64_t now = monotonicNanos();
  for (std::size_t i = 0; i < policy.grants.size(); ++i) shared->grants[i] = {double(policy.grants[i].rate.count), now};
  return std::unique_ptr<Budgets>(new Budgets(policy.grants, shared));
}

Budgets::~Budgets() { munmap(shared_, sizeof(Shared)); }

bool Budgets::take(std::size_t grant_index, ByteView user, std::int64_t now_ns) {
  const OpsGrant& grant = grants_.at(grant_index);
  RobustLock lock(&shared_->mutex);
  if (!lock.locked()) return false;  // fail closed

  Bucket& role_bucket = shared_->grants[grant_index];
  const Bucket role_before = role_bucket;
  bool allowed = takeFrom(role_bucket, grant.rate, now_ns);
  if (allowed && grant.per_user.count && !user.empty()) {
    const std::uint64_t key = userKey(grant_index, user);
    const std::size_t home = key % kUserSlots;
    UserBucket* slot = nullptr;
    UserBucket* reusable = nullptr;
    UserBucket* oldest = nullptr;
    for (std::size_t probe = 0; probe < kProbe; ++probe) {
      UserBucket& candidate = shared_->users[(home + probe) % kUserSlots];
      if (candidate.key == key) {
        slot = &candidate;
        break;
      }
      if (!reusable && (candidate.key == 0 || refilled(candidate, grants_, now_ns))) reusable = &candidate;
      if (!oldest || candidate.bucket.updated_ns < oldest->bucket.updated_ns) oldest = &candidate;
    }
    if (!slot) {
      slot = reusable ? reusable : oldest;
      *slot = UserBucket{key, grant_index, Bucket{double(grant.per_user.count), now_ns}};
    }
    allowed = takeFrom(slot->bucket, grant.per_user, now_ns);
    if (!allowed) role_bucket = role_before;  // a refused call costs the role nothing
  }
  return allowed;
}

}  // namespace mpay::signer
