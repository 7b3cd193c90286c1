#include "signer/dispatcher.h"

#include <utility>

#include <sstream>

#include "common/log.h"

namespace mpay::signer {
namespace {

std::vector<std::string> splitKeys(std::string_view keys) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(keys)};
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

Bytes Dispatcher::handle(ByteView body, const Caller& caller) {
  wire::RequestHeader header;
  ByteView payload;
  if (!wire::parseRequestHeader(body, &header, &payload))
    return respond(caller, "invalid", "", 0, fail(ErrorCode::kBadFrame, "frame shorter than its header"));
  if (header.version != wire::kVersion)
    return respond(caller, "invalid", "", header.request_id,
                   fail(ErrorCode::kUnsupportedVersion, "version " + std::to_string(header.version)));
  const Operation* op = findOperation(header.op);
  if (!op)
    return respond(caller, "unknown", "", header.request_id,
                   fail(ErrorCode::kUnknownOperation, "op " + std::to_string(header.op)));
  if (auto admitted = admit(*op, payload, caller); !admitted.ok())
    return respond(caller, op->name, "", header.request_id, std::move(admitted).error());
  std::string state_change;
  Result<Bytes> result = op->handler(ctx_, payload, &state_change);
  if ((op->flags & kOncePerProcess) && result.ok()) {
    // After the handler checked the request: a malformed one spends nothing.
    Status once = ctx_.state ? ctx_.state->recordGatewayStart(caller.pid, &state_change)
                             : fail(ErrorCode::kInternal, "no signer state to remember the caller in");
    if (!once.ok()) result = std::move(once).error();
  }
  std::string note;
  if ((op->flags & kAuditsItsRequest) && result.ok()) {
    note.assign(result.value().begin(), result.value().end());
    result = Bytes{};
  }
  bool audited = false;
  Bytes response = respond(caller, op->name, op->keys, header.request_id, std::move(result), note, state_change, &audited);
  if ((op->flags & kOncePerProcess) && !audited && ctx_.state) ctx_.state->forgetGatewayStart(caller.pid);
  return response;
}

Status Dispatcher::admit(const Operation& op, ByteView payload, const Caller& caller) {
#ifdef MPAY_TEST_HOOKS
  // Test builds: the sandbox probes are the admin's without a line in signer.ops.
  if ((op.flags & kTestOnly) && (op.roles & caller.roles)) return {};
#endif
  const int grant = ops_.find(caller.roles, op);
  if (grant < 0)
    return fail(ErrorCode::kNotPermitted,
                "policy/signer.ops grants " + std::string(op.name) + " to none of: " + roleNames(caller.roles));
  Bytes user;
  if (op.user_key) {
    // A request that does not parse has no user; its handler refuses it.
    if (auto key = op.user_key(payload); key.ok()) user = std::move(key).value();
  }
  if (!budgets_.take(static_cast<std::size_t>(grant), user, monotonicNanos()))
    return fail(ErrorCode::kRateLimited, std::string(op.name) + " over its budget in policy/signer.ops");
  return {};
}

void Dispatcher::auditRefusedConnection(long uid, ErrorCode code, const std::string& detail) {
  std::uint64_t left_out = 0;
  {
    std::lock_guard lock(refusals_mutex_);
    RefusalWindow& window = refusals_[code];
    const std::int64_t second = monotonicNanos() / 1'000'000'000;
    if (window.second == second) {
      ++window.left_out;
      return;
    }
    window.second = second;
    left_out = std::exchange(window.left_out, 0);
  }
  AuditEvent event;
  event.uid = uid;
  event.role = "none";
  event.op = "connection";
  event.result = std::string(errorName(code));
  event.note = detail + (left_out ? "; " + std::to_string(left_out) + " more like it not recorded" : "");
  if (auto seq = audit_.append(event); !seq.ok())
    log::error("event=audit_failed op=connection detail=\"" + seq.error().detail + "\"");
}

Bytes Dispatcher::respond(const Caller& caller, std::string_view op, std::string_view keys, std::uint32_t request_id,
                          Result<Bytes> result, const std::string& note, const std::string& state_change,
                          bool* audited) {
  AuditEvent event;
  event.uid = caller.uid;
  event.role = roleNames(caller.roles);
  event.op = std::string(op);
  event.request = request_id;
  event.keys = splitKeys(keys);
  event.result = std::string(errorName(result.ok() ? ErrorCode::kOk : result.error().code));
  event.note = note;
  event.state = state_change;
  auto seq = audit_.append(event);
  if (audited) *audited = seq.ok();
  if (!seq.ok()) {
    log::error("event=audit_failed request=" + std::to_string(request_id) + " detail=\"" + seq.error().detail + "\"");
    return wire::encodeResponse(ErrorCode::kAuditUnavailable, request_id, {});
  }
  if (!result.ok()) {
    log::warn("event=refused op=" + event.op + " request=" + std::to_string(request_id) + " uid=" +
              std::to_string(caller.uid) + " code=" + event.result + " detail=\"" + result.error().detail + "\"");
    return wire::encodeResponse(result.error().code, request_id, {});
  }
  return wire::encodeResponse(ErrorCode::kOk, request_id, result.value());
}

}  // namespace mpay::signer
