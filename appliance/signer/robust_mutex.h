// A mutex in memory shared by the signer's workers (a MAP_SHARED page made
// before they fork), robust: a worker killed while holding it does not
// stall the others — the next locker takes it over. What it guards must
// stay usable half-updated (plain numbers, slots written whole).
#pragma once
#include <pthread.h>

#include "common/result.h"

namespace mpay::signer {

Status initRobustMutex(pthread_mutex_t* mutex);

class RobustLock {
 public:
  explicit RobustLock(pthread_mutex_t* mutex);
  ~RobustLock();
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;
  bool locked() const { return locked_; }

 private:
  pthread_mutex_t* mutex_;
  bool locked_ = false;
};

}  // namespace mpay::signer
