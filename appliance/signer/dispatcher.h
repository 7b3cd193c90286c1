// One request in, one response out: header checks, the operation table,
// the caller's role against policy/signer.ops, the rate budgets, the
// handler, and the audit record. Fail closed: if the
// audit record cannot be written the caller gets kAuditUnavailable and the
// handler's result is dropped.
#pragma once
#include <map>
#include <mutex>

#include "common/audit_log.h"
#include "signer/budgets.h"
#include "signer/operations.h"
#include "signer/ops_policy.h"

namespace mpay::signer {

struct Caller {
  long uid = -1;
  std::uint8_t roles = 0;
  std::uint32_t pid = 0;  // SO_PEERCRED: the process at the other end
};

class Dispatcher {
 public:
  // `budgets` outlives the dispatcher (it is shared with the other workers).
  // `ctx.state`, when set, outlives the dispatcher too; the audit log syncs it.
  Dispatcher(OpContext ctx, AuditLog audit, OpsPolicy ops, Budgets& budgets)
      : ctx_(std::move(ctx)), audit_(std::move(audit)), ops_(std::move(ops)), budgets_(budgets) {
    if (!ctx_.prepared) ctx_.prepared = std::make_shared<PreparedPlatform>(ctx_.token.platform());
    if (ctx_.state) audit_.syncFirst([state = ctx_.state] { return state->sync(); });
  }
  // `body` is a request frame without its length prefix; returns a whole response frame.
  Bytes handle(ByteView body, const Caller& caller);
  OpContext& context() { return ctx_; }
  AuditLog& audit() { return audit_; }
  // A refusal before any request could be read (a connection without a
  // role, a frame over the maximum) goes into the audit log too: the first
  // of each kind in a second is recorded, with how many of that kind the
  // previous records left out, so a flood cannot flood the log.
  void auditRefusedConnection(long uid, ErrorCode code, const std::string& detail);

 private:
  Bytes respond(const Caller& caller, std::string_view op, std::string_view keys, std::uint32_t request_id,
                Result<Bytes> result, const std::string& note = "", const std::string& state_change = "",
                bool* audited = nullptr);
  Status admit(const Operation& op, ByteView payload, const Caller& caller);
  struct RefusalWindow {
    std::int64_t second = -1;
    std::uint64_t left_out = 0;
  };
  std::mutex refusals_mutex_;
  std::map<ErrorCode, RefusalWindow> refusals_;
  OpContext ctx_;
  AuditLog audit_;
  OpsPolicy ops_;
  Budgets& budgets_;
};

}  // namespace mpay::signer
