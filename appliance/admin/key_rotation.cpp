#include "admin/key_rotation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <vector>

#include "admin/key_ceremony.h"
#include "admin/open_orders.h"
#include "gateway/signer_client.h"
#include "ca/certificate.h"
#include "hsm/keygen.h"
#include "hsm/lane.h"
#include "suite/messages.h"
#include "suite/primitives.h"

namespace mpay::admin {
namespace {

constexpr int kSignerTimeoutMs = 5000;

// What each kind's generations do, in the operator's words.
struct Wording {
  const char* current;
  const char* next;
  const char* previous;
};
Wording wordingOf(const std::string& kind) {
  if (kind == "service") return {" announced to phones", " (opened, not announced)", "opened"};
  if (kind == "receipt") return {" signs receipts", " (certificate published, not signing)", "may sign"};
  if (kind == "kek") return {" seals new records", " (opens, seals nothing)", "opens what it sealed"};
  if (kind == "ca") return {" issues certificates", " (certificate and link certificates made, issues nothing)", "may issue"};
  return {" makes new verifiers", " (checks verifiers, makes none)", "checks the verifiers made under it"};
}

// One kind's counts: "generation 1 holds 3 password verifier(s)", "... 2 identity record(s)".
std::string describeCounts(const std::string& kind, const std::vector<gateway::GenerationCount>& counts) {
  std::string out;
  for (const auto& c : counts) {
    if (c.key != kind) continue;
    const std::string what = c.key == "verifier" ? " verifier(s)" : c.which == "session" ? "(s) not expired" : " record(s)";
    out += "  generation " + std::to_string(c.generation) + " holds " + std::to_string(c.count) + " " + c.which + what +
           "\n";
  }
  return out;
}

std::string describe(const std::string& kind, const hsm::KeyGenerations& g, std::uint64_t now) {
  std::ostringstream out;
  const Wording words = wordingOf(kind);
  out << kind << " key: generation " << g.current << words.current << "\n";
  if (g.next != 0)
    out << "  generation " << g.next << " begun at " << g.next_since << words.next << ": next step `switch`\n";
  if (g.previous != 0 && hsm::RotationState::counted(kind)) {
    out << "  generation " << g.previous << " previous, " << words.previous << " until none is left ("
        << (kind == "kek" ? "identity records are sealed again by the gateway; sessions expire after 15 minutes"
                          : "renewed at each user's next login or payment")
        << "): then `retire`\n";
  } else if (g.previous != 0) {
    out << "  generation " << g.previous << " previous, " << words.previous << " until " << g.previous_until;
    if (now < g.previous_until)
      out << " (" << (g.previous_until - now) << " s from now): then `retire`\n";
    else
      out << " (ended): next step `retire`\n";
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

// The key (pair) only: a retired receipt key leaves its certificate, which
// keeps verifying the receipts it signed until it expires.
Status destroyGeneration(const AdminToken& token, const std::string& kind, std::uint32_t g) {
  const auto t = token.base_policy.generation(kind, g);
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY}) {
    MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(cls, t.label));
    (void)destroyed;
  }
  if (kind == "service")
    for (std::uint32_t by = 1; by <= std::max(token.rotation.ca.current, token.rotation.ca.next); ++by) {
      MPAY_ASSIGN_OR_RETURN(int destroyed,
                            token.session.destroyAll(CKO_DATA, hsm::endorsementLabel(token.base_policy, g, by)));
      (void)destroyed;
    }
  return {};
}

// CA generation `by` vouches for service key generation g: phones follow a
// changed service key only with the signature of the CA presented with it
// (docs/protocol.md §7.1).
Status endorseServiceKey(const AdminToken& token, std::uint32_t g, std::uint32_t by) {
  const hsm::Session& s = token.session;
  const auto t = token.base_policy.generation("service", g);
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub, s.findOne(CKO_PUBLIC_KEY, t.label));
  MPAY_ASSIGN_OR_RETURN(Bytes attr, s.attributeBytes(pub, CKA_EC_POINT));
  MPAY_ASSIGN_OR_RETURN(Bytes point, hsm::ecPointFromAttribute(attr));
  const auto ca_key = token.base_policy.generation("ca", by);
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca, s.findOne(CKO_PRIVATE_KEY, ca_key.label));
  const Bytes message = suite::serviceKeyEndorsementBytes(g, point);
  MPAY_ASSIGN_OR_RETURN(Bytes raw, hsm::ecdsaSignDigest(s, ca, suite::sha256(message)));
  MPAY_ASSIGN_OR_RETURN(Bytes low, suite::lowS(raw));
  MPAY_ASSIGN_OR_RETURN(Bytes der, suite::p1363ToDer(low));
  // Checked before it is kept: a faulty signature would strand every phone.
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_cert, s.findOne(CKO_CERTIFICATE, ca_key.label));
  MPAY_ASSIGN_OR_RETURN(Bytes ca_der, s.attributeBytes(ca_cert, CKA_VALUE));
  MPAY_ASSIGN_OR_RETURN(auto ca_public, ca::certificatePublicKey(ca_der));
  if (!ca_public.verifyDer(message, der)) return fail(ErrorCode::kInternal, "the CA's endorsement does not verify");
  const std::string label = hsm::endorsementLabel(token.base_policy, g, by);
  MPAY_ASSIGN_OR_RETURN(int replaced, s.destroyAll(CKO_DATA, label));
  (void)replaced;
  // Public data (phones get it from GET /v1/platform): readable without the PIN.
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE made, hsm::createDataObject(s, label, der, false));
  (void)made;
  return {};
}

// The certificate labelled like the new receipt key is this key's, from
// the current CA, with the receipt-signer profile: a leftover of another
// platform, or of a begin interrupted before a CA switch (from the CA
// before, which phones registered since do not trust), is not published.
Status checkReceiptCertificate(const AdminToken& token, const hsm::KeyTemplate& receipt) {
  const hsm::Session& s = token.session;
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE cert, s.findOne(CKO_CERTIFICATE, receipt.label));
  MPAY_ASSIGN_OR_RETURN(Bytes der, s.attributeBytes(cert, CKA_VALUE));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ca_cert, s.findOne(CKO_CERTIFICATE, token.policy.key("ca").label));
  MPAY_ASSIGN_OR_RETURN(Bytes ca_der, s.attributeBytes(ca_cert, CKA_VALUE));
  MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub, s.findOne(CKO_PUBLIC_KEY, receipt.label));
  MPAY_ASSIGN_OR_RETURN(Bytes attr, s.attributeBytes(pub, CKA_EC_POINT));
  MPAY_ASSIGN_OR_RETURN(Bytes point, hsm::ecPointFromAttribute(attr));
  auto certified = ca::verifyReceiptSigner(der, ca_der);
  if (!certified || certified->point() != point)
    return fail(ErrorCode::kBadCertificate, "the certificate labelled " + receipt.label +
                                                " is not this key's receipt certificate from the platform's current CA: "
                                                "destroy the leftover objects of that label and begin again");
  return {};
}

Result<std::string> begin(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  hsm::KeyGenerations& g = state.of(step.kind);
  if (g.next != 0)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(g.next) + " is already begun: `switch` to it first");
  if (g.previous != 0)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(g.previous) +
                                          " is still the previous one: `retire` it first");
  // A new service key is endorsed, and a new receipt key certified, by the
  // CA in service; a new CA endorses the service key and certifies the
  // receipt key in service: the CA does not rotate with either of them.
  if (step.kind == "ca" && (state.service.next != 0 || state.receipt.next != 0))
    return fail(ErrorCode::kBadField, std::string("a ") + (state.service.next != 0 ? "service" : "receipt") +
                                          " key rotation is begun: switch it first");
  if ((step.kind == "service" || step.kind == "receipt") && state.ca.next != 0)
    return fail(ErrorCode::kBadField, "a CA rotation is begun: switch it first");
  const std::uint32_t next = g.current + 1;
  MPAY_RETURN_IF_ERROR(recordStep(config, step.kind + " begin generation=" + std::to_string(next)));
  // A begin that stopped after making the key made it in this token: it is used as it is.
  const auto t = token.base_policy.generation(step.kind, next);
  MPAY_ASSIGN_OR_RETURN(bool created, hsm::ensureKey(token.session, t));
  if (step.kind == "receipt") {
    MPAY_ASSIGN_OR_RETURN(bool issued, ensureReceiptCertificate(token.session, t, token.policy));
    if (!issued && !checkReceiptCertificate(token, t).ok()) {
      // Left by a begin that stopped before its state named the key, so
      // never published: issued again by the current CA.
      MPAY_ASSIGN_OR_RETURN(int destroyed, token.session.destroyAll(CKO_CERTIFICATE, t.label));
      (void)destroyed;
      MPAY_ASSIGN_OR_RETURN(issued, ensureReceiptCertificate(token.session, t, token.policy));
    }
    MPAY_RETURN_IF_ERROR(checkReceiptCertificate(token, t));
  }
  if (step.kind == "ca") {
    MPAY_RETURN_IF_ERROR(ensureCaGeneration(token.session, token.base_policy, next));
    // Presented with the new CA after the switch, the service key in
    // service needs its signature (generation 1 is taken at registration),
    // and the receipt key in service its certificate: a phone that trusts
    // only the new CA verifies receipts with it.
    if (state.service.current > 1) MPAY_RETURN_IF_ERROR(endorseServiceKey(token, state.service.current, next));
    MPAY_RETURN_IF_ERROR(recertifyReceiptKey(token.session, token.base_policy, state.receipt.current, next));
  }
  MPAY_RETURN_IF_ERROR(step.hand_back());  // the key is the signer's before the state names it
  state.version += 1;
  g.next = next;
  g.next_since = step.now();
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  const std::string what =
      step.kind == "service"    ? "the signer opens with it within " + std::to_string(kWorkersTakeState) + " s"
      : step.kind == "receipt"  ? "its certificate from the CA is published in GET /v1/platform"
      : step.kind == "ca"       ? "its certificate, the cross certificate that joins it to generation " +
                                     std::to_string(g.current) + " and its certificate for the receipt key are on the "
                                     "token; every signer worker honours certificates it issues within " +
                                     std::to_string(kWorkersTakeState) + " s"
                                : "every signer worker has it within " + std::to_string(kWorkersTakeState) +
                                     " s, before anything is made under it";
  return std::string(created ? "created" : "present") + "  " + step.kind + " key generation " + std::to_string(next) +
         " (" + t.label + "); " + what + ". Next: mpay-admin rotate " + step.kind + " switch\n";
}

Result<std::string> switchTo(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  hsm::KeyGenerations& g = state.of(step.kind);
  if (g.next == 0) return fail(ErrorCode::kBadField, "no generation is begun: `begin` first");
  if (step.kind == "service" && step.overlap_seconds == 0)
    return fail(ErrorCode::kBadField, "the overlap must be at least 1 s");
  // Every worker opens with a new service key before phones hear of it; a
  // new receipt certificate is in every answer of GET /v1/platform (workers
  // and the gateway's copy) before a receipt is signed with it.
  const std::uint64_t ready_at = g.next_since + (step.kind == "receipt" ? kReceiptPublished : kWorkersTakeState);
  if (step.now() < ready_at) step.wait(static_cast<int>(ready_at - step.now()));
  // A service key's overlap is for phones that still seal to it; a receipt
  // key needs only the time every worker takes to move to the new one; an
  // old verifier key stays until no verifier is left under it (retire checks).
  const std::uint64_t until = hsm::RotationState::counted(step.kind)
                                  ? 0
                                  : step.now() + (step.kind == "service" ? step.overlap_seconds : kWorkersTakeState);
  const std::uint32_t fresh = g.next, old = g.current;
  MPAY_RETURN_IF_ERROR(recordStep(config, step.kind + " switch generation=" + std::to_string(fresh) +
                                              " previous=" + std::to_string(old) +
                                              " previous_until=" + std::to_string(until)));
  // The CA's signature, without which no phone follows the new key, is on
  // the token before the state names the key current.
  if (step.kind == "service") {
    MPAY_RETURN_IF_ERROR(endorseServiceKey(token, fresh, state.ca.current));
    MPAY_RETURN_IF_ERROR(step.hand_back());
  }
  state.version += 1;
  g = {fresh, 0, 0, old, until};
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  if (step.kind == "kek")
    return "switched the KEK to generation " + std::to_string(fresh) + ": new identity records and session keys are "
           "sealed under it; the gateway seals the stored identity records again, and sessions under generation " +
           std::to_string(old) + " expire (15 minutes). Generation " + std::to_string(old) +
           " opens them until none is left (mpay-admin rotate kek status). Next: mpay-admin rotate kek retire\n";
  if (step.kind == "verifier")
    return "switched the verifier key to generation " + std::to_string(fresh) + ": new verifiers are made under it, "
           "and each user's password and PIN verifiers move to it at their next login and payment. Generation " +
           std::to_string(old) + " checks the others until none is left (mpay-admin rotate verifier status). "
           "Next: mpay-admin rotate verifier retire\n";
  // The switch has happened whatever the export does; a failed export is
  // said, and `mpay-admin init` (which changes nothing else) exports again.
  CeremonyReport exported;
  if (auto files = exportPublicParts(token.session, config, hsm::currentPolicy(token.base_policy, state), exported);
      !files.ok())
    std::cerr << "mpay-admin: switched, but the public files were not exported (" << files.error().detail
              << "): run mpay-admin init to export them\n";
  if (step.kind == "ca")
    return "switched the CA to generation " + std::to_string(fresh) + " (ca.pem exported, every generation in it): "
           "new user certificates are issued by it; certificates of generation " + std::to_string(old) +
           " are honoured until they expire, and phones follow the new CA through its cross certificate. Next, from " +
           std::to_string(until) + ": mpay-admin rotate ca retire (destroys generation " + std::to_string(old) +
           "'s key; its certificate stays)\n";
  if (step.kind == "receipt")
    return "switched the receipt key to generation " + std::to_string(fresh) + " (receipt.pem exported); generation " +
           std::to_string(old) + "'s certificate stays published. Next, from " + std::to_string(until) +
           ": mpay-admin rotate receipt retire\n";
  return "switched service key to generation " + std::to_string(fresh) + "; generation " + std::to_string(old) +
         " is opened until " + std::to_string(until) + " and announced with that end. " +
         "Phones take the new key at their next login. Next, after that time: mpay-admin rotate service retire\n";
}

// Key pairs of generations older than current that the state no longer
// names: left by a retire that stopped between its state and its destroy.
Result<std::vector<std::uint32_t>> leftovers(const AdminToken& token, const std::string& kind,
                                             const hsm::KeyGenerations& g) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t each = 1; each < g.current; ++each) {
    if (each == g.previous) continue;
    const auto t = token.base_policy.generation(kind, each);
    MPAY_ASSIGN_OR_RETURN(bool there, token.session.exists(hsm::keyClass(t), t.label));
    if (there) out.push_back(each);
  }
  return out;
}

// A counted kind's generation protects nothing the database holds (or the
// error lists what it still protects).
Status nothingLeftUnder(const Config& config, const std::string& kind, std::uint32_t generation) {
  MPAY_ASSIGN_OR_RETURN(auto counts, countKeyGenerationsAsGateway(config));
  std::vector<gateway::GenerationCount> left;
  for (const auto& c : counts)
    if (c.key == kind && c.generation == generation && c.count > 0) left.push_back(c);
  if (left.empty()) return {};
  return fail(ErrorCode::kBadField, "generation " + std::to_string(generation) +
                                        " still protects what the database holds" +
                                        (kind == "kek" ? " (identity records not sealed again yet, sessions not expired)"
                                                       : ": its users have not logged in or paid since the switch") +
                                        "\n" + describeCounts(kind, left));
}

Result<std::string> retire(const Config& config, AdminToken& token, const RotationStep& step) {
  hsm::RotationState state = token.rotation;
  hsm::KeyGenerations& g = state.of(step.kind);
  if (g.previous == 0) {
    MPAY_ASSIGN_OR_RETURN(auto left, leftovers(token, step.kind, g));
    if (left.empty()) return fail(ErrorCode::kBadField, "no previous generation to retire");
    if (hsm::RotationState::counted(step.kind))
      for (std::uint32_t each : left) MPAY_RETURN_IF_ERROR(nothingLeftUnder(config, step.kind, each));
    std::string step_text = step.kind + " retire";
    for (std::uint32_t each : left) step_text += " leftover=" + std::to_string(each);
    MPAY_RETURN_IF_ERROR(recordStep(config, step_text));
    for (std::uint32_t each : left) MPAY_RETURN_IF_ERROR(destroyGeneration(token, step.kind, each));
    return "destroyed " + std::to_string(left.size()) + " " + step.kind +
           " key generation(s) an interrupted retire had left in the token\n";
  }
  if (hsm::RotationState::counted(step.kind)) {
    // Verifiers cannot be made again without their secrets, sessions are
    // not re-sealed: the old key goes only when the database holds nothing
    // made under it.
    MPAY_RETURN_IF_ERROR(nothingLeftUnder(config, step.kind, g.previous));
  } else if (step.now() < g.previous_until)
    return fail(ErrorCode::kBadField, "generation " + std::to_string(g.previous) + " is " +
                                          (step.kind == "service" ? "opened" : "in use") + " until " +
                                          std::to_string(g.previous_until) + " (" +
                                          std::to_string(g.previous_until - step.now()) + " s from now)" +
                                          (step.kind == "service" ? ": phones that have not logged in since the "
                                                                    "switch still seal to it"
                                                                  : ""));
  const std::uint32_t old = g.previous;
  MPAY_RETURN_IF_ERROR(recordStep(config, step.kind + " retire generation=" + std::to_string(old)));
  state.version += 1;
  g.previous = 0;
  g.previous_until = 0;
  MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
  MPAY_RETURN_IF_ERROR(step.hand_back());
  // A worker that has not read the new state yet would look for the old key
  // when it opens a lane: it goes only once every worker has moved on.
  step.wait(kWorkersTakeState);
  if (hsm::RotationState::counted(step.kind)) {
    // Counted again: a worker that had not taken the switch (stopped, or
    // cut off from the token) may have made something under the old key
    // since the first count. Then the old key stays and is named again.
    if (auto again = nothingLeftUnder(config, step.kind, old); !again.ok()) {
      hsm::KeyGenerations& back = state.of(step.kind);
      state.version += 1;
      back.previous = old;
      MPAY_RETURN_IF_ERROR(hsm::writeRotationState(token.session, state));
      MPAY_RETURN_IF_ERROR(step.hand_back());
      return fail(again.error().code, "not retired: something was made under generation " + std::to_string(old) +
                                          " during the retire; it is named again and kept. " + again.error().detail);
    }
  }
  MPAY_RETURN_IF_ERROR(destroyGeneration(token, step.kind, old));
  return "retired " + step.kind + " key generation " + std::to_string(old) + ": destroyed in the token" +
         (step.kind == "receipt" ? " (its certificate stays published until it expires)"
          : step.kind == "ca"    ? " (its certificate stays: the user certificates it issued are honoured until "
                                   "they expire, and it issues nothing more)"
                                 : "") +
         "\n";
}

}  // namespace

// One rotation step at a time on this appliance: the configuration file is
// the lock (held until the process ends).
Status lockRotation(const Config& config) {
  const int fd = ::open(config.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot open " + config.path + " to lock it");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return fail(ErrorCode::kBadField, "another mpay-admin rotate is running on this appliance");
  }
  return {};  // the descriptor stays open: the lock lasts as long as this command
}

Result<std::string> rotateKey(const Config& config, const RotationStep& step) {
  const auto& kinds = hsm::RotationState::kinds();
  if (std::find(kinds.begin(), kinds.end(), step.kind) == kinds.end())
    return fail(ErrorCode::kBadField, "only the service, receipt, verifier, kek and ca keys rotate");
  if (step.step != "status") MPAY_RETURN_IF_ERROR(lockRotation(config));
  MPAY_ASSIGN_OR_RETURN(AdminToken token, openAdminToken(config));
  if (step.step == "status" && hsm::RotationState::counted(step.kind)) {
    MPAY_ASSIGN_OR_RETURN(auto counts, countKeyGenerationsAsGateway(config));
    return describe(step.kind, token.rotation.of(step.kind), step.now()) + describeCounts(step.kind, counts);
  }
  if (step.step == "status") return describe(step.kind, token.rotation.of(step.kind), step.now());
  if (step.step == "begin") return begin(config, token, step);
  if (step.step == "switch") return switchTo(config, token, step);
  if (step.step == "retire") return retire(config, token, step);
  return fail(ErrorCode::kBadField, "unknown step '" + step.step + "': begin, switch, retire or status");
}

}  // namespace mpay::admin
