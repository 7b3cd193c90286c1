#include "admin/key_rotation.h"

#include <sstream>

#include "admin/key_ceremony.h"
#include "gateway/signer_client.h"
#include "hsm/keygen.h"

namespace mpay::admin {
namespace {

constexpr int kSignerTimeoutMs = 5000;

std::string describe(const hsm::KeyGenerations& g, std::uint64_t now) {
  std::ostringstream out;
  out << "service key: generation " << g.current << " announced to phones\n";
  if (g.next != 0)
    out << "  generation " << g.next << " begun at " << g.next_since
        << " (opened, not announced): next step `switch`\n";
  if (g.previous != 0) {
    out << "  generation " << g.previous << " previous, opened until " << g.previous_until;
    if (now < g.previous_until)
      out << " (" << (g.previous_until - now) << " s from now): then `retire`\n";
    else
      out << " (ended; no longer opened): next step `retire`\n";
  }
  if (g.next == 0 && g.previous == 0) out << "  no rotation in progress: `begin` starts one\n";
  return out.str();
}

// The audit record comes first: if the signer cannot write it, nothing changes.
Status recordStep(const Config& config, const std::string& step) {
  MPAY_ASSIGN_OR_RETURN(auto signer, gateway::SignerClient::connect(config.signer.socket, kSignerTimeoutMs));
  Status recorded = signer.recordRotation(step);
  if (!recorded.ok())
    return fail(recorded.error().code, "the signer did not write the audit record of '" + step +
                                           "' (" + recorded.error().detail + "): nothing was changed");
  return {};
}

Status destroyGeneration(const AdminToken& token, std::uint32_t g) {
  const auto t = token.base_policy.generation("service", g);
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(cls, t.label));
    (void)destroyed;
  }
  return {};
}

Result<std::string> begin(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  if (state.service.next != 0)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(state.service.next) +
                                          " is already begun: `switch` to it first");
  if (state.service.previous != 0)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(state.service.previous) +
                                          " is still the previous one: `retire` it first");
  const std::uint32_t g = state.service.current + 1;
  MPAY_RETURN_IF_ERROR(recordStep(config, "service begin generation=" + std::to_string(g)));
  // A begin that stopped after making the key made it in this token: it is used as it is.
  MPAY_ASSIGN_OR_RETURN(bool created, hsm::ensureKey(token.session, token.base_policy.generation("service", g)));
  MPAY_RETURN_IF_ERROR(step.hand_back());  // the key is the signer's before the state names it
  state.version += 1;
  state.service.next = g;
  state.service.next_since = step.now();
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  return std::string(created ? "created" : "present") + "  service key generation " + std::to_string(g) + " (" +
         hsm::generationLabel(token.base_policy.key("service").label, g) +
         "); the signer opens with it within " + std::to_string(kWorkersTakeState) +
         " s. Next: mpay-admin rotate service switch\n";
}

Result<std::string> switchTo(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  if (state.service.next == 0) return fail(ErrorCode::kBadField, "no generation is begun: `begin` first");
  if (step.overlap_seconds == 0) return fail(ErrorCode::kBadField, "the overlap must be at least 1 s");
  const std::uint64_t ready_at = state.service.next_since + kWorkersTakeState;
  if (step.now() < ready_at) step.wait(static_cast<int>(ready_at - step.now()));
  const std::uint64_t until = step.now() + step.overlap_seconds;
  const std::uint32_t g = state.service.next, old = state.service.current;
  MPAY_RETURN_IF_ERROR(recordStep(config, "service switch generation=" + std::to_string(g) +
                                              " previous=" + std::to_string(old) +
                                              " previous_until=" + std::to_string(until)));
  state.version += 1;
  state.service = {g, 0, 0, old, until};
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  CeremonyReport exported;
  MPAY_RETURN_IF_ERROR(exportPublicParts(token.session, config, hsm::currentPolicy(token.base_policy, state), exported));
  return "switched service key to generation " + std::to_string(g) + "; generation " + std::to_string(old) +
         " is opened until " + std::to_string(until) + " and announced with that end. " +
         "Phones take the new key at their next login. Next, after that time: mpay-admin rotate service retire\n";
}

Result<std::string> retire(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  if (state.service.previous == 0) return fail(ErrorCode::kBadField, "no previous generation to retire");
  if (step.now() < state.service.previous_until)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(state.service.previous) + " is opened until " +
                                          std::to_string(state.service.previous_until) + " (" +
                                          std::to_string(state.service.previous_until - step.now()) +
                                          " s from now): phones that have not logged in since the switch still "
                                          "seal to it");
  const std::uint32_t old = state.service.previous;
  MPAY_RETURN_IF_ERROR(recordStep(config, "service retire generation=" + std::to_string(old)));
  state.version += 1;
  state.service.previous = 0;
  state.service.previous_until = 0;
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  // A worker that has not read the new state yet would look for the old key
  // when it opens a lane: it goes only once every worker has moved on.
  step.wait(kWorkersTakeState);
  MPAY_RETURN_IF_ERROR(destroyGeneration(token, old));
  return "retired service key generation " + std::to_string(old) + ": destroyed in the token\n";
}

}  // namespace

Result<std::string> rotateServiceKey(const Config& config, const RotationStep& step) {
  MPAY_ASSIGN_OR_RETURN(AdminToken token, openAdminToken(config));
  if (step.step == "status") return describe(token.rotation.service, step.now());
  if (step.step == "begin") return begin(config, token, step);
  if (step.step == "switch") return switchTo(config, token, step);
  if (step.step == "retire") return retire(config, token, step);
  return fail(ErrorCode::kBadField, "unknown step '" + step.step + "': begin, switch, retire or status");
}

}  // namespace mpay::admin
