// mpay-admin rotate service|receipt|verifier|kek|ca begin|switch|retire|status: a key's
// generations, changed one audited step at a time while the appliance runs
// (docs/operations.md, "Rotating keys"). For the service key:
//   begin   makes generation N+1 in the token; the signer opens with it too,
//           phones are not told yet.
//   switch  announces N+1 as the key to use; N is still opened until the end
//           of the overlap, and announced with that end.
//   retire  after the overlap: N is no longer named, then destroyed.
// For the receipt key: begin makes N+1 and its certificate from the CA,
// published at once; switch has the signer sign with N+1; retire destroys
// N's key pair, and its certificate stays published. For the verifier key:
// begin makes N+1, which every worker can check with; switch has new
// verifiers made under N+1 (each user's are made again at their next login
// and payment); retire destroys N once the database holds no verifier of it.
// For the KEK: the same steps; after switch new blobs are sealed under N+1,
// the gateway seals the stored identity records again (rewrap_identity) and
// sessions under N expire; retire waits until nothing is left under N. For
// the CA: begin makes N+1, its self-signed certificate (N's name), the
// cross certificate (N+1's key from N), N+1's endorsement of the service
// key in service and its certificate for the receipt key in service;
// switch has user certificates issued by N+1 and publishes the cross
// certificate; retire destroys N's key pair, and its certificate stays
// (what N issued is honoured until it expires).
// Each step first writes its audit record through the running signer (admin
// role): no record, no step.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "common/config.h"

namespace mpay::admin {

struct RotationStep {
  std::string kind;                    // service, receipt, verifier, kek or ca
  std::string step;                    // begin, switch, retire or status
  std::uint64_t overlap_seconds = 0;   // switch: how long the previous generation keeps opening
  std::function<std::uint64_t()> now;  // unix seconds
  std::function<void(int seconds)> wait;  // the steps' waits for the signer's workers
  // Run as root, hands the token files a step made to the signer's user
  // before the next step can name them (SoftHSM2 skips a file it cannot read).
  std::function<Status()> hand_back;
};

// Seconds every signer worker needs to take a new rotation state (it reads
// the token every 2 s): switch waits this long after begin, retire this long
// between forgetting a generation and destroying it.
inline constexpr int kWorkersTakeState = 5;
// A receipt switch waits until GET /v1/platform publishes the new
// certificate everywhere: a worker's 2 s, the gateway's 5 s copy, a margin.
inline constexpr int kReceiptPublished = 12;
inline constexpr std::uint64_t kDefaultOverlapSeconds = 7 * 24 * 3600;

// What was done (or, for status, the state), as lines for the operator.
Result<std::string> rotateKey(const Config& config, const RotationStep& step);

}  // namespace mpay::admin
