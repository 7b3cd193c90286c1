// Everything the signer can do is one row of the table in
// operation_table.cpp; a request for anything else is refused. The table
// feeds the dispatcher, the docs (docs/protocol.md, "Signer operations") and
// a test that checks each id has exactly one row.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/signer_protocol.h"
#include "hsm/token.h"
#include "signer/prepared_platform.h"
#include "signer/signer_state.h"
#include "suite/ec.h"

namespace mpay::signer {

// Caller roles, resolved from the peer uid (SO_PEERCRED).
enum Role : std::uint8_t { kRoleGateway = 1, kRoleAdmin = 2 };

enum OpFlag : std::uint8_t {
  kOpensSecrets = 1,  // decrypts a password, PIN or key inside the signer
  kNeedsSession = 2,  // needs session keys from a previous open_login
  kNeedsPermit = 4,   // needs a permit from a previous open_payment
  kUsesTokenKey = 8,  // uses a long-term private or secret key in the token
  kTestOnly = 16,     // compiled into test builds only; never in docs or production
  kAuditsItsRequest = 32,  // the handler's answer is the audit record's note; the caller gets an empty answer
  kOncePerProcess = 64,    // once per calling process (SO_PEERCRED pid), remembered in the signer's state
};

struct OpContext {
  hsm::Token& token;
  std::function<std::uint64_t()> now;  // seconds since the epoch
  int pkcs12_iterations = 200000;
  std::string audit_path;
  std::shared_ptr<PreparedPlatform> prepared = nullptr;  // made by the dispatcher when not given
  SignerState* state = nullptr;  // shared by every worker; outlives the context
  std::shared_ptr<const suite::EcPublicKey> acquirer_key = nullptr;  // signer.acquirer_certificate's key
};

// `change`: what the request changed in the signer's state, appended as
// text without secrets; the dispatcher puts it into the audit record, whose
// batch syncs the state file before the answer leaves.
using Handler = Result<Bytes> (*)(OpContext& ctx, ByteView payload, std::string* change);
// The user a request acts for (bytes that identify them: their certificate),
// for per-user budgets in policy/signer.ops.
using UserKey = Result<Bytes> (*)(ByteView payload);

struct Operation {
  wire::OpId id;
  std::string_view name;
  std::uint8_t roles;     // Role bits policy/signer.ops may grant it to
  std::uint8_t flags;     // OpFlag bits
  std::string_view keys;  // token keys it uses, comma-separated policy names
  Handler handler;
  std::string_view purpose;  // patent steps and what it answers
  UserKey user_key = nullptr;  // nullptr: the operation acts for no particular user
};

std::span<const Operation> operations();
const Operation* findOperation(std::uint16_t id);
std::string roleNames(std::uint8_t roles);

// Handlers, one per row.
Result<Bytes> handlePlatformInfo(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleHealth(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleAuditHead(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleAuditTail(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleRecordStart(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleRecordRotation(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleOpenRegistration(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleOpenLogin(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleOpenPayment(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleSignReceipt(OpContext& ctx, ByteView payload, std::string* change);
Result<Bytes> handleRewrapIdentity(OpContext& ctx, ByteView payload, std::string* change);
#ifdef MPAY_TEST_HOOKS
Result<Bytes> handleTestProbe(OpContext& ctx, ByteView payload, std::string* change);
#endif

}  // namespace mpay::signer
