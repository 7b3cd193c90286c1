// Resident memory of the appliance's processes on this host, from /proc.
#pragma once
#include <map>
#include <string>

namespace mpay::bench {

// Program name (mpay-signer, counting its workers; mpay-gateway) -> summed VmRSS in KiB.
std::map<std::string, long> residentKib();

}  // namespace mpay::bench
