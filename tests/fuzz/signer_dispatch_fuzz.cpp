// The signer's whole request path as a compromised gateway drives it: a frame
// body handed to the dispatcher of a real signer worker — a fresh SoftHSM2
// token from dev-setup with the ceremony's keys, the audit log, the budgets —
// as the gateway role, with budgets too large to get in the way. Properties:
// no crash, leak or undefined behaviour in the handlers, the token layer or
// OpenSSL's parsers behind them; every answer is one well-formed response
// frame carrying the request's id.
#include <cstdlib>
#include <memory>

#include "common/audit_log.h"
#include "common/signer_protocol.h"
#include "fuzz_target.h"
#include "signer/dispatcher.h"
#include "support/dev_appliance.h"

namespace {

using namespace mpay;

constexpr const char* kOpenPolicy =
    "gateway platform_info rate=1000000/s\n"
    "gateway health rate=1000000/s\n"
    "gateway record_start rate=1000000/s\n"
    "gateway open_registration rate=1000000/s\n"
    "gateway open_login rate=1000000/s\n"
    "gateway open_payment rate=1000000/s\n"
    "gateway sign_receipt rate=1000000/s\n";

struct Worker {
  test::DevAppliance appliance;
  std::unique_ptr<hsm::Token> token = appliance.openToken(1);
  std::unique_ptr<signer::Budgets> budgets;
  std::unique_ptr<signer::SignerState> state = appliance.openState();
  std::unique_ptr<signer::Dispatcher> dispatcher;
};
Worker* worker = nullptr;  // for the whole process; removed (with its temp dir) at exit

void start() {
  worker = new Worker;
  std::atexit([] { delete worker; });
  auto ops = signer::OpsPolicy::parse(kOpenPolicy, "fuzz.ops");
  MPAY_FUZZ_CHECK(ops.ok());
  auto budgets = signer::Budgets::create(*ops);
  MPAY_FUZZ_CHECK(budgets.ok());
  worker->budgets = std::move(budgets).value();
  auto audit = AuditLog::open(worker->appliance.config().signer.audit_log);
  MPAY_FUZZ_CHECK(audit.ok());
  signer::OpContext ctx{*worker->token, [] { return std::uint64_t{1'800'000'000}; }, 10000,
                        worker->appliance.config().signer.audit_log};
  ctx.state = worker->state.get();
  ctx.acquirer_key = worker->appliance.acquirerKey();
  worker->dispatcher = std::make_unique<signer::Dispatcher>(std::move(ctx), std::move(audit).value(),
                                                             std::move(ops).value(), *worker->budgets);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView body(data, size);
  const Bytes answer = worker->dispatcher->handle(body, signer::Caller{1000, signer::kRoleGateway, 4242});
  ByteReader reader(answer);
  std::uint32_t length = 0, request_id = 0;
  std::uint8_t version = 0;
  std::uint16_t status = 0;
  MPAY_FUZZ_CHECK(reader.u32(&length) && length == answer.size() - 4);
  MPAY_FUZZ_CHECK(reader.u8(&version) && version == wire::kVersion && reader.u16(&status) && reader.u32(&request_id));
  wire::RequestHeader header;
  ByteView payload;
  if (wire::parseRequestHeader(body, &header, &payload)) MPAY_FUZZ_CHECK(request_id == header.request_id);
  if (status != 0) MPAY_FUZZ_CHECK(reader.empty());
  return 0;
}
