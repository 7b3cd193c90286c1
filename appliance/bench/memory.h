// Resident memory of the appliance's processes on this host, from /proc.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>

namespace mpay::bench {

// Program name (mpay-signer, counting its workers; mpay-gateway) -> summed VmRSS in KiB.
std::map<std::string, long> residentKib();
// One process's VmRSS in KiB; -1 when it is gone.
long residentKibOf(pid_t pid);

}  // namespace mpay::bench
