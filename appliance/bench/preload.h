// Scale in data: synthetic users, each with a session, written straight
// into the gateway's database (SQLite or PostgreSQL) so that the pay phase
// can be measured against a million users as against a thousand. The rows
// have the real columns and realistic sizes but no usable keys: no phone
// can log in as them. Their numbers start "syn-" and a run tag, so they
// never collide with a phone's.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace mpay::bench {

// Adds users and sessions until the database holds `target` synthetic
// users (fewer already there: the rest are added; more: nothing). Returns
// how many it holds now, which is more than `target` when an earlier run
// left more behind.
Result<std::int64_t> preloadUsers(const std::string& db_url, std::int64_t target);

// The query plans of the lookups a payment and a login make, as the
// database reports them (EXPLAIN QUERY PLAN / EXPLAIN): each an index
// search, never a scan, whatever the number of users.
Result<std::vector<std::pair<std::string, std::string>>> hotQueryPlans(const std::string& db_url);

}  // namespace mpay::bench
