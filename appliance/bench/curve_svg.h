// The open-loop latency curve as a picture: for login and for pay, the
// rate reached (x) against p50 and p99 latency (y, ms), one point per
// open-loop phase. Written by mpay-bench --curve; docs/operations.md shows it.
#pragma once
#include <string>
#include <vector>

#include "bench/load.h"

namespace mpay::bench {

// `title` goes on top (machine, build, database); the phases are the
// "login curve F" and "pay curve F" reports in any order.
std::string latencyCurveSvg(const std::string& title, const std::vector<PhaseReport>& curve);

}  // namespace mpay::bench
