// Requests released at once from a barrier, and what they answered: how the
// hostile suites make requests really overlap.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "support/running_appliance.h"

namespace mpay::test {

// Every body posted by its own thread, all released at once.
std::vector<HttpAnswer> postTogether(const RunningAppliance& app, const std::string& path,
                                     const std::vector<std::string>& bodies);
// The same, body i sent to apps[i % apps.size()]: one request to each
// appliance of a cluster in turn.
std::vector<HttpAnswer> postTogetherAcross(const std::vector<const RunningAppliance*>& apps, const std::string& path,
                                           const std::vector<std::string>& bodies);
// "ok" or the error code -> how many answered it.
std::map<std::string, int> countErrors(const std::vector<HttpAnswer>& answers);
std::string describe(const std::map<std::string, int>& counts);

}  // namespace mpay::test
