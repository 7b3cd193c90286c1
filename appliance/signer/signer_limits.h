// policy/signer.limits: the rules the signer enforces for each user itself,
// whatever the gateway forwards (docs/threat-model.md, "What a compromised
// gateway can and cannot do"), and the size of the state behind them. One
// rule a line:
//
//   <name> <number>   # why
//
// Every name below must appear exactly once; an unknown name, a number out
// of its range or a missing line stops the signer at start with file and
// line.
#pragma once
#include <cstdint>
#include <string>

#include "common/result.h"

namespace mpay::signer {

struct SignerLimits {
  std::uint32_t password_threshold = 0;  // wrong passwords in a row that lock the user's login
  std::uint32_t password_lock_s = 0;     // how long that lock lasts; wrong tries older than this are forgotten
  std::uint32_t password_daily = 0;      // wrong passwords in a day that lock for the rest of it
  std::uint32_t pin_threshold = 0;       // the same for payment PINs
  std::uint32_t pin_lock_s = 0;
  std::uint32_t pin_daily = 0;
  std::uint32_t timestamp_window_s = 0;  // a signed login timestamp more than this from the signer's clock is stale
  // Capacities of the state file's tables (docs/operations.md, "Signer state").
  std::uint32_t users = 0;         // users with recent wrong passwords or PINs, at once
  std::uint32_t phones = 0;        // numbers held by the key of their first login (until its certificate expires)
  std::uint32_t login_nonces = 0;  // logins within twice the timestamp window
  std::uint32_t sessions = 0;      // sessions alive at once (each keeps its highest payment counter)
  std::uint32_t permits = 0;       // permits issued within a permit's lifetime (a day)
  std::uint32_t foreign_permits = 0;  // other appliances' permits spent here within a permit's lifetime
  // A signed checkpoint of the audit chain after this many records, or this
  // many seconds after the last one when records came since.
  std::uint32_t audit_checkpoint_records = 0;
  std::uint32_t audit_checkpoint_seconds = 0;

  static Result<SignerLimits> load(const std::string& path);
  static Result<SignerLimits> parse(const std::string& text, const std::string& file);
};

}  // namespace mpay::signer
