#include "common/heap_tuning.h"

#include <malloc.h>
#include <sys/sysinfo.h>

namespace mpay {

void keepFreedMemory() {
  // Free memory at a heap's top is given back only past 64 MiB; blocks
  // below 4 MiB come from the heap, not from mmap and munmap each time.
  // Setting both also fixes them (glibc otherwise moves the thresholds).
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  // glibc's own limit on thread arenas (8 per CPU), fixed now: left unset,
  // malloc counts the CPUs (get_nprocs: sched_getaffinity) the first time a
  // ninth thread needs an arena — after the sandbox, whose lists do not
  // allow that call, so a busy gateway would be killed by SIGSYS.
  const int cpus = get_nprocs();
  mallopt(M_ARENA_MAX, 8 * (cpus > 0 ? cpus : 1));
}

}  // namespace mpay
