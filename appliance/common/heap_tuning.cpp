#include "common/heap_tuning.h"

#include <malloc.h>

namespace mpay {

void keepFreedMemory() {
  // Free memory at a heap's top is given back only past 64 MiB; blocks
  // below 4 MiB come from the heap, not from mmap and munmap each time.
  // Setting both also fixes them (glibc otherwise moves the thresholds).
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace mpay
