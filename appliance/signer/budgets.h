// The rate budgets of policy/signer.ops, enforced by the signer itself and
// shared by all its workers: token buckets in one anonymous shared mapping
// made before the workers fork, guarded by a process-shared robust mutex (a
// worker killed while holding it does not stall the others).
//
// Per grant, one bucket for the whole role; per grant and user, a bucket in
// a fixed table of kUserSlots (open addressing). A user's slot is reused only
// once its bucket has refilled (idle for a whole period) or, when every slot
// nearby is busy, the least recently used one is; the grant's own rate bounds
// how fast anyone can churn the table.
#pragma once
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "common/result.h"
#include "signer/ops_policy.h"

namespace mpay::signer {

class Budgets {
 public:
  static constexpr std::size_t kUserSlots = 8192;

  static Result<std::unique_ptr<Budgets>> create(const OpsPolicy& policy);
  ~Budgets();
  Budgets(const Budgets&) = delete;
  Budgets& operator=(const Budgets&) = delete;

  // Takes one call from grant `grant` (an index into policy.grants) and, when
  // the grant has a per-user budget and `user` is not empty, from that user's
  // bucket. False: over budget, nothing taken.
  bool take(std::size_t grant, ByteView user, std::int64_t now_ns);

 private:
  struct Shared;
  Budgets(std::vector<OpsGrant> grants, Shared* shared) : grants_(std::move(grants)), shared_(shared) {}
  std::vector<OpsGrant> grants_;
  Shared* shared_;
};

std::int64_t monotonicNanos();

}  // namespace mpay::signer
