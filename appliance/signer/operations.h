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
};

struct OpContext {
  hsm::Token& token;
  std::function<std::uint64_t()> now;  // seconds since the epoch
  int pkcs12_iterations = 200000;
  std::string audit_path;
  std::shared_ptr<PreparedPlatform> prepared = nullptr;  // made by the dispatcher when not given
};

using Handler = Result<Bytes> (*)(OpContext& ctx, ByteView payload);
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
Result<Bytes> handlePlatformInfo(OpContext& ctx, ByteView payload);
Result<Bytes> handleHealth(OpContext& ctx, ByteView payload);
Result<Bytes> handleAuditHead(OpContext& ctx, ByteView payload);
Result<Bytes> handleRecordStart(OpContext& ctx, ByteView payload);
Result<Bytes> handleOpenRegistration(OpContext& ctx, ByteView payload);
Result<Bytes> handleOpenLogin(OpContext& ctx, ByteView payload);
Result<Bytes> handleOpenPayment(OpContext& ctx, ByteView payload);
Result<Bytes> handleSignReceipt(OpContext& ctx, ByteView payload);
#ifdef MPAY_TEST_HOOKS
Result<Bytes> handleTestProbe(OpContext& ctx, ByteView payload);
#endif

}  // namespace mpay::signer
