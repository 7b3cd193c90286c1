// Resident memory of a process, from /proc.
#pragma once
#include <sys/types.h>

namespace mpay::bench {

// One process's VmRSS in KiB; -1 when it is gone.
long residentKibOf(pid_t pid);

}  // namespace mpay::bench
