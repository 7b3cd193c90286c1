// The dispatcher in-process, with a controllable clock and caller roles.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/audit_log.h"
#include "signer/dispatcher.h"
#include "suite/messages.h"
#include "support/dev_appliance.h"

namespace mpay::signer {
namespace {

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_ = appliance_.openToken(2);
    auto ops = OpsPolicy::load(appliance_.config().policy_dir + "/signer.ops");
    ASSERT_TRUE(ops.ok()) << ops.error().detail;
    start(ops.value());
  }

  void start(const OpsPolicy& ops) {
    dispatcher_.reset();
    auto audit = AuditLog::open(appliance_.config().signer.audit_log);
    ASSERT_TRUE(audit.ok());
    OpContext ctx{*token_, [this] { return now_; }, 10000, appliance_.config().signer.audit_log};
    auto budgets = Budgets::create(ops);
    ASSERT_TRUE(budgets.ok());
    budgets_ = std::move(budgets).value();
    dispatcher_ = std::make_unique<Dispatcher>(std::move(ctx), std::move(audit).value(), ops, *budgets_);
  }

  struct Reply {
    ErrorCode status;
    std::uint32_t request_id;
    Bytes payload;
  };
  Reply send(ByteView frame_with_length, std::uint8_t roles = kRoleGateway) {
    Bytes out = dispatcher_->handle(frame_with_length.subspan(4), Caller{1000, roles});
    ByteReader r(ByteView(out).subspan(4));
    std::uint8_t version = 0;
    std::uint16_t status = 0;
    std::uint32_t id = 0;
    EXPECT_TRUE(r.u8(&version) && r.u16(&status) && r.u32(&id));
    return Reply{static_cast<ErrorCode>(status), id, Bytes(out.begin() + 4 + wire::kHeaderLen, out.end())};
  }
  Reply call(wire::OpId op, ByteView payload, std::uint8_t roles = kRoleGateway) {
    return send(wire::encodeRequest(op, 42, payload), roles);
  }

  test::DevAppliance appliance_;
  std::unique_ptr<hsm::Token> token_;
  std::unique_ptr<Budgets> budgets_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::uint64_t now_ = 1'800'000'000;
};

TEST_F(DispatcherTest, RolesLimitOperations) {
  EXPECT_EQ(call(wire::OpId::kAuditHead, {}, kRoleGateway).status, ErrorCode::kNotPermitted);
  auto head = call(wire::OpId::kAuditHead, {}, kRoleAdmin);
  ASSERT_EQ(head.status, ErrorCode::kOk);
  EXPECT_EQ(call(wire::OpId::kOpenLogin, {}, kRoleAdmin).status, ErrorCode::kNotPermitted);
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}, kRoleAdmin).status, ErrorCode::kOk);
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}, 0).status, ErrorCode::kNotPermitted);
}

TEST_F(DispatcherTest, SignerOpsGrantsAndBudgetsAreEnforcedAndAudited) {
  auto ops = OpsPolicy::parse("gateway platform_info rate=2/min\n"
                              "gateway open_login rate=100/s per_user=2/min\n", "signer.ops");
  ASSERT_TRUE(ops.ok()) << ops.error().detail;
  start(ops.value());
  EXPECT_EQ(call(wire::OpId::kHealth, {}).status, ErrorCode::kNotPermitted) << "not granted in this policy";
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}).status, ErrorCode::kOk);
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}).status, ErrorCode::kOk);
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}).status, ErrorCode::kRateLimited);

  // A user is their certificate: the budget counts before the handler looks
  // at the request (these certificates do not verify).
  auto login = [&](std::uint8_t who) {
    wire::OpenLoginRequest req{Bytes(300, who), Bytes(16, 1), Bytes(32, 2), Bytes(100, 3), Bytes(40, 4)};
    return call(wire::OpId::kOpenLogin, wire::encodeMessage(req)).status;
  };
  EXPECT_EQ(login(1), ErrorCode::kBadCertificate);
  EXPECT_EQ(login(1), ErrorCode::kBadCertificate);
  EXPECT_EQ(login(1), ErrorCode::kRateLimited);
  EXPECT_EQ(login(2), ErrorCode::kBadCertificate) << "another user has a budget of their own";

  std::ifstream in(appliance_.config().signer.audit_log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("\"rate_limited\""), std::string::npos) << "refusals are audited";
}

TEST_F(DispatcherTest, RecordStartPutsOnlyAValidatedDigestIntoTheAuditLog) {
  auto ops = OpsPolicy::parse("gateway record_start rate=100/s\n", "signer.ops");  // the shipped 1/s is for real starts
  ASSERT_TRUE(ops.ok());
  start(ops.value());
  auto record = [&](const std::string& process, const std::string& digest, std::uint8_t roles = kRoleGateway) {
    return call(wire::OpId::kRecordStart, wire::encodeMessage(wire::RecordStartRequest{process, digest}), roles);
  };
  const std::string digest(64, 'a');
  auto ok = record("mpay-gateway", digest);
  EXPECT_EQ(ok.status, ErrorCode::kOk);
  EXPECT_TRUE(ok.payload.empty()) << "the note goes to the audit log, not back to the caller";
  EXPECT_EQ(record("mpay-gateway\",\"op\":\"x", digest).status, ErrorCode::kBadField);
  EXPECT_EQ(record("mpay-gateway", std::string(64, 'G')).status, ErrorCode::kBadField);
  EXPECT_EQ(record("mpay-gateway", "abc").status, ErrorCode::kBadField);
  EXPECT_EQ(record("mpay-gateway", digest, kRoleAdmin).status, ErrorCode::kNotPermitted);

  std::ifstream in(appliance_.config().signer.audit_log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("mpay-gateway started, policy sha256=" + digest), std::string::npos);
  EXPECT_EQ(text.str().find("\"op\":\"x"), std::string::npos);
  EXPECT_TRUE(verifyAuditLog(appliance_.config().signer.audit_log).ok());
}

TEST_F(DispatcherTest, MalformedRequestsGetTheirCodesAndAreAudited) {
  Bytes bad_version = wire::encodeRequest(wire::OpId::kPlatformInfo, 7, {});
  bad_version[4] = 2;
  EXPECT_EQ(send(bad_version).status, ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(send(bad_version).request_id, 7u);
  EXPECT_EQ(call(static_cast<wire::OpId>(0x7777), {}).status, ErrorCode::kUnknownOperation);
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, asBytes("x")).status, ErrorCode::kBadFrame);
  EXPECT_EQ(call(wire::OpId::kOpenLogin, asBytes("garbage")).status, ErrorCode::kBadFrame);
  Bytes short_frame = {0, 0, 0, 3, 1, 0, 1};
  EXPECT_EQ(send(short_frame).status, ErrorCode::kBadFrame);
  auto verified = verifyAuditLog(appliance_.config().signer.audit_log);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->records, 6u);
}

TEST_F(DispatcherTest, SignReceiptNeedsAPermitForThatOrderAndAmount) {
  // A permit as open_payment makes it, for order O-1 / 1234 CNY.
  const std::uint64_t expires = now_ + 600;
  auto mac = token_->call<Bytes>([&](hsm::Lane& lane) {
    return lane.hmac(lane.keys().permit, suite::permitMacInput("O-1", "+8613800138000", 1234, "CNY", expires));
  });
  ASSERT_TRUE(mac.ok());
  ByteWriter permit;
  permit.u64(expires).raw(mac.value());
  wire::SignReceiptRequest req{permit.take(), "T-1", 1, "O-1", "+8613800138000", 1234, "CNY", now_};
  EXPECT_EQ(call(wire::OpId::kSignReceipt, wire::encodeMessage(req)).status, ErrorCode::kOk);

  auto refused = [&](wire::SignReceiptRequest r) { return call(wire::OpId::kSignReceipt, wire::encodeMessage(r)).status; };
  auto other_order = req;
  other_order.order_no = "O-2";
  EXPECT_EQ(refused(other_order), ErrorCode::kBadPermit);
  auto other_amount = req;
  other_amount.amount_minor = 1235;
  EXPECT_EQ(refused(other_amount), ErrorCode::kBadPermit);
  auto forged = req;
  forged.permit.back() ^= 1;
  EXPECT_EQ(refused(forged), ErrorCode::kBadPermit);
  auto none = req;
  none.permit = Bytes(40, 0);
  EXPECT_EQ(refused(none), ErrorCode::kBadPermit);
  auto extended = req;  // a later expiry does not match the MAC
  extended.permit[7] ^= 1;
  EXPECT_EQ(refused(extended), ErrorCode::kBadPermit);
  now_ = expires + 1;
  EXPECT_EQ(refused(req), ErrorCode::kBadPermit);
}

TEST_F(DispatcherTest, FailsClosedWhenTheAuditLogCannotBeWritten) {
  // A complete last record that does not parse (not a torn write: an edit)
  // makes every append fail: nothing may be answered.
  std::ofstream(appliance_.config().signer.audit_log, std::ios::app) << "not a record\n";
  auto reply = call(wire::OpId::kPlatformInfo, {});
  EXPECT_EQ(reply.status, ErrorCode::kAuditUnavailable);
  EXPECT_TRUE(reply.payload.empty());
}

TEST_F(DispatcherTest, OperationsRecoverAfterAllSessionsClose) {
  ASSERT_EQ(call(wire::OpId::kHealth, {}).status, ErrorCode::kOk);
  ASSERT_EQ(token_->functions()->C_CloseAllSessions(token_->slot()), CKR_OK);
  auto health = call(wire::OpId::kHealth, {});
  ASSERT_EQ(health.status, ErrorCode::kOk);
  EXPECT_EQ(health.payload, Bytes{0});  // healthy again
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}).status, ErrorCode::kOk);
}

}  // namespace
}  // namespace mpay::signer
