#include "signer/robust_mutex.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace mpay::signer {

Status initRobustMutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return fail(ErrorCode::kInternal, "shared mutex: " + std::string(std::strerror(rc)));
  return {};
}

RobustLock::RobustLock(pthread_mutex_t* mutex) : mutex_(mutex) {
  const int rc = pthread_mutex_lock(mutex_);
  if (rc == EOWNERDEAD) pthread_mutex_consistent(mutex_);
  locked_ = rc == 0 || rc == EOWNERDEAD;
}

RobustLock::~RobustLock() {
  if (locked_) pthread_mutex_unlock(mutex_);
}

}  // namespace mpay::signer
