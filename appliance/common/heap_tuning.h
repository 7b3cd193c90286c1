// How each of the appliance's processes keeps its freed memory. glibc's
// defaults give a thread arena's free top back with madvise as soon as it
// passes 128 KiB, and serve blocks over a moving threshold with mmap: under
// load every request then shrank and regrew the heap, and each madvise
// flushed the TLB of every core (in a profile of the pay phase, 15 % of the
// gateway's CPU was the hypervisor's part of those flushes and page
// faults). Kept memory is bounded by the processes' targets
// (docs/operations.md, "Benchmarks") and checked by the bench and the soak.
#pragma once

namespace mpay {

// Call first in main(), before any thread starts.
void keepFreedMemory();

}  // namespace mpay
