// mpay-bench --chaos: phones pay while processes of the appliance are
// killed at random (SIGKILL): signer workers, the signer's parent, the
// gateway and the acquirer simulator, all children of one mpayd. Each phone
// behaves as docs/protocol.md asks of a real one: a payment that answered a
// retryable error or payment_pending is sent again, freshly signed, for the
// same order until it has an outcome; a lost session means a new login.
// What the books say afterwards is for mpay-admin reconcile (scripts/chaos).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/load.h"

namespace mpay::bench {

struct ChaosOptions {
  pid_t mpayd = 0;
  int kills = 10;
  double seconds = 20;  // the kills are spread over this
  // One appliance of a cluster dies instead: mpayd and every process it
  // started, SIGKILL, a third into `seconds`; the phones go on through the
  // load balancer until `seconds` are over.
  bool whole_appliance = false;
  // Or a command (/bin/sh -c) run a third into `seconds` — a database
  // failover, say: the report says how long payments stopped succeeding.
  std::string command;
};

struct ChaosReport {
  std::map<std::string, std::uint64_t> answers;     // "ok", or the error code, or "no_answer"
  std::map<std::string, std::uint64_t> unexpected;  // answers that are neither ok nor documented as retryable
  std::vector<std::string> kills;                   // "<target> <pid> recovered in <ms> ms" or "... no payment before the next kill"
  std::vector<double> recovery_ms;                  // kill to the next successful payment
  std::uint64_t payments = 0;                       // orders that reached an outcome
  std::uint64_t pending_at_end = 0;                 // orders still without one when the run ended
  double longest_gap_ms = 0;                        // the longest time between two successful payments: the outage
};

std::optional<ChaosReport> runChaos(const LoadOptions& load, const ChaosOptions& chaos);

// The answers a phone may see during faults and retry on (docs/protocol.md §7.7).
bool retryable(const std::string& code);

}  // namespace mpay::bench
