// The dispatcher in-process, with a controllable clock and caller roles.
#include <gtest/gtest.h>

#include <unistd.h>

#include <iterator>

#include <fstream>
#include <sstream>

#include "common/audit_log.h"
#include "hsm/keygen.h"
#include "hsm/rotation.h"
#include "signer/dispatcher.h"
#include "suite/acquirer_answer.h"
#include "suite/messages.h"
#include "suite/primitives.h"
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
    if (!state_) state_ = appliance_.openState();
    ctx.state = state_.get();
    ctx.acquirer_key = appliance_.acquirerKey();
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
    Bytes out = dispatcher_->handle(frame_with_length.subspan(4), Caller{1000, roles, static_cast<std::uint32_t>(getpid())});
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
  std::unique_ptr<SignerState> state_;
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

TEST_F(DispatcherTest, AuditTailGivesSummariesAndShowsAnUnreadableRecordAsSuch) {
  ASSERT_EQ(call(wire::OpId::kHealth, {}).status, ErrorCode::kOk);
  auto tail = call(wire::OpId::kAuditTail, {});
  ASSERT_EQ(tail.status, ErrorCode::kOk);
  auto parsed = wire::parseMessage<wire::AuditTailResponse>(tail.payload);
  ASSERT_TRUE(parsed.ok());
  const std::string text(parsed->records.begin(), parsed->records.end());
  EXPECT_NE(text.find("\"op\":\"health\""), std::string::npos) << text;
  EXPECT_EQ(text.find("\"prev\""), std::string::npos) << text;
  EXPECT_EQ(text.find("\"uid\""), std::string::npos) << text;
  // One edited record: the rest are still shown, that one as unreadable.
  auto lines = test::readLines(appliance_.config().signer.audit_log);
  ASSERT_GE(lines.size(), 2u);
  lines[lines.size() - 2] = "not a record";
  test::writeLines(appliance_.config().signer.audit_log, lines);
  auto again = wire::parseMessage<wire::AuditTailResponse>(call(wire::OpId::kAuditTail, {}).payload);
  ASSERT_TRUE(again.ok());
  const std::string shown(again->records.begin(), again->records.end());
  EXPECT_NE(shown.find("(unreadable record)"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"op\":\"audit_tail\""), std::string::npos) << shown;
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
    wire::OpenLoginRequest req{Bytes(300, who), Bytes(16, 1), Bytes(32, 2), Bytes(100, 3), Bytes(40, 4), 0};
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

// As a compromised gateway would try it: a permit as open_payment makes it
// (for order O-1 / 1234 CNY), then receipts the acquirer did not sign for.
TEST_F(DispatcherTest, SignReceiptNeedsAPermitForThatOrderAndTheAcquirersSignature) {
  std::string change;
  const std::uint64_t id = state_->issuePermit(&change).value();
  const std::uint64_t expires = now_ + 600;
  auto mac = token_->call<Bytes>([&](hsm::Lane& lane) {
    return lane.hmac(lane.keys().permit,
                     suite::permitMacInput(state_->epoch(), id, "O-1", "+8613800138000", 1234, "CNY", expires));
  });
  ASSERT_TRUE(mac.ok());
  ByteWriter permit;
  permit.raw(state_->epoch()).u64(id).u64(expires).raw(mac.value());
  wire::SignReceiptRequest req{permit.take(), "T-1", 1, "O-1", "+8613800138000", 1234, "CNY", now_, {}};
  appliance_.signAsAcquirer(req);

  auto status = [&](wire::SignReceiptRequest r) { return call(wire::OpId::kSignReceipt, wire::encodeMessage(r)).status; };
  auto other_order = req;
  other_order.order_no = "O-2";
  appliance_.signAsAcquirer(other_order);
  EXPECT_EQ(status(other_order), ErrorCode::kBadPermit);
  auto other_amount = req;
  other_amount.amount_minor = 1235;
  appliance_.signAsAcquirer(other_amount);
  EXPECT_EQ(status(other_amount), ErrorCode::kBadPermit);
  auto forged = req;
  forged.permit.back() ^= 1;
  EXPECT_EQ(status(forged), ErrorCode::kBadPermit);
  auto none = req;
  none.permit = Bytes(wire::kPermitLen, 0);
  EXPECT_EQ(status(none), ErrorCode::kBadPermit);
  auto extended = req;  // a later expiry does not match the MAC
  extended.permit[31] ^= 1;
  EXPECT_EQ(status(extended), ErrorCode::kBadPermit);
  auto renumbered = req;  // nor another number
  renumbered.permit[23] ^= 1;
  EXPECT_EQ(status(renumbered), ErrorCode::kBadPermit);
  auto other_state = req;  // nor another signer state's epoch
  other_state.permit[0] ^= 1;
  EXPECT_EQ(status(other_state), ErrorCode::kBadPermit);

  // The acquirer's answer: unsigned, signed by someone else, or changed after signing.
  auto unsigned_answer = req;
  unsigned_answer.acquirer_signature.clear();
  EXPECT_EQ(status(unsigned_answer), ErrorCode::kBadAcquirerAnswer);
  auto foreign = req;
  auto stranger = suite::EcPrivateKey::generate([](std::size_t n) { return Secret::copyOf(suite::randomBytes(n)); });
  foreign.acquirer_signature = stranger->signDer(suite::acquirerAnswerBytes(
      {req.order_no, req.phone, req.amount_minor, req.currency, suite::PaymentResult::kApproved, req.transaction_no,
       req.time})).value();
  EXPECT_EQ(status(foreign), ErrorCode::kBadAcquirerAnswer);
  auto declined = req;  // a decline the acquirer signed, presented as approved
  declined.result = 2;
  appliance_.signAsAcquirer(declined);
  auto turned = declined;
  turned.result = 1;
  EXPECT_EQ(status(turned), ErrorCode::kBadAcquirerAnswer);
  auto other_payer = req;  // what the acquirer signed for another payer of the order
  other_payer.phone = "+8613900000000";
  appliance_.signAsAcquirer(other_payer);
  other_payer.phone = req.phone;
  EXPECT_EQ(status(other_payer), ErrorCode::kBadAcquirerAnswer);
  auto later = req;  // another time than the acquirer's
  later.time += 1;
  EXPECT_EQ(status(later), ErrorCode::kBadAcquirerAnswer);

  // One permit, one answer: the same answer again signs the same values (a
  // retry after a lost reply); another answer, even one the acquirer signed, is refused.
  EXPECT_EQ(status(req), ErrorCode::kOk);
  EXPECT_EQ(status(req), ErrorCode::kOk);
  EXPECT_EQ(status(declined), ErrorCode::kPermitSpent);
  auto second_transaction = req;
  second_transaction.transaction_no = "T-2";
  appliance_.signAsAcquirer(second_transaction);
  EXPECT_EQ(status(second_transaction), ErrorCode::kPermitSpent);

  // A permit another appliance of the cluster issued (its state's epoch, the
  // same permit key) for an order it left open: signed here for one answer.
  const Bytes other_epoch(16, 0x5a);
  auto otherPermit = [&](std::uint64_t expires_at) {
    auto other_mac = token_->call<Bytes>([&](hsm::Lane& lane) {
      return lane.hmac(lane.keys().permit,
                       suite::permitMacInput(other_epoch, id, "O-1", "+8613800138000", 1234, "CNY", expires_at));
    });
    EXPECT_TRUE(other_mac.ok());
    ByteWriter bytes;
    bytes.raw(other_epoch).u64(id).u64(expires_at).raw(other_mac.value());
    return bytes.take();
  };
  const std::uint64_t issued_now = now_ + suite::kPermitLifetimeSeconds;
  auto elsewhere = req;
  elsewhere.permit = otherPermit(issued_now);
  EXPECT_EQ(status(elsewhere), ErrorCode::kOk);
  EXPECT_EQ(status(elsewhere), ErrorCode::kOk);
  auto elsewhere_declined = declined;
  elsewhere_declined.permit = elsewhere.permit;
  EXPECT_EQ(status(elsewhere_declined), ErrorCode::kPermitSpent);
  // Another state's permit issued before this signer's state was made (an
  // old state file's, say, spent there already) is refused.
  const std::uint64_t test_now = now_;
  now_ = state_->createdAt();  // unexpired, issued a second before the state
  auto before_this_state = req;
  before_this_state.permit = otherPermit(state_->createdAt() + suite::kPermitLifetimeSeconds - 1);
  EXPECT_EQ(status(before_this_state), ErrorCode::kBadPermit);
  before_this_state.permit = otherPermit(state_->createdAt() + suite::kPermitLifetimeSeconds);
  EXPECT_EQ(status(before_this_state), ErrorCode::kOk);  // issued as it was made: the control
  now_ = test_now;

  now_ = expires + 1;
  EXPECT_EQ(status(req), ErrorCode::kBadPermit);
  now_ = issued_now + 1;
  EXPECT_EQ(status(elsewhere), ErrorCode::kBadPermit);

  // Every refusal is in the audit log with its own code.
  std::ifstream log(appliance_.config().signer.audit_log);
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  for (const char* code : {"\"result\":\"bad_permit\"", "\"result\":\"bad_acquirer_answer\"", "\"result\":\"permit_spent\"",
                           "\"state\":\"permit=1 spent\""})
    EXPECT_NE(text.find(code), std::string::npos) << code;
}

TEST_F(DispatcherTest, FailsClosedWhenTheAuditLogCannotBeWritten) {
  // A complete last record that does not parse (not a torn write: an edit)
  // makes every append fail: nothing may be answered.
  std::ofstream(appliance_.config().signer.audit_log, std::ios::app) << "not a record\n";
  auto reply = call(wire::OpId::kPlatformInfo, {});
  EXPECT_EQ(reply.status, ErrorCode::kAuditUnavailable);
  EXPECT_TRUE(reply.payload.empty());
}

// A start record that never reached the log does not count as taken: the
// gateway's retry writes it (a gateway must not serve without one).
TEST_F(DispatcherTest, AStartRecordTheAuditLogRefusedCanBeWrittenByTheRetry) {
  auto ops = OpsPolicy::parse("gateway record_start rate=100/s\n", "signer.ops");
  ASSERT_TRUE(ops.ok());
  start(ops.value());
  const Bytes request = wire::encodeMessage(wire::RecordStartRequest{"mpay-gateway", std::string(64, 'a')});
  const std::string log = appliance_.config().signer.audit_log;
  std::string good;
  {
    std::ifstream in(log);
    good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(log, std::ios::app) << "not a record\n";
  EXPECT_EQ(call(wire::OpId::kRecordStart, request, kRoleGateway).status, ErrorCode::kAuditUnavailable);
  std::ofstream(log, std::ios::trunc) << good;
  EXPECT_EQ(call(wire::OpId::kRecordStart, request, kRoleGateway).status, ErrorCode::kOk) << "the retry is written";
  EXPECT_EQ(call(wire::OpId::kRecordStart, request, kRoleGateway).status, ErrorCode::kReplayed) << "and only once";
}

TEST_F(DispatcherTest, OperationsRecoverAfterAllSessionsClose) {
  ASSERT_EQ(call(wire::OpId::kHealth, {}).status, ErrorCode::kOk);
  ASSERT_EQ(token_->functions()->C_CloseAllSessions(token_->slot()), CKR_OK);
  auto health = call(wire::OpId::kHealth, {});
  ASSERT_EQ(health.status, ErrorCode::kOk);
  EXPECT_EQ(health.payload, Bytes{0});  // healthy again
  EXPECT_EQ(call(wire::OpId::kPlatformInfo, {}).status, ErrorCode::kOk);
}

// rewrap_identity seals a record again only from an older KEK to the current
// one, only for the phone whose AAD it carries, and answers ciphertext alone.
TEST_F(DispatcherTest, RewrapIdentityMovesARecordForwardForItsOwnPhoneOnly) {
  const std::string phone = "+8613800138200";
  auto sealed = token_->call<Bytes>([&](hsm::Lane& lane) {
    return lane.seal(lane.keys().kek, suite::identityAad(phone), asBytes("Zhang San|110101199003070000"));
  });
  ASSERT_TRUE(sealed.ok()) << sealed.error().detail;
  const auto rewrap = [&](const std::string& p, const Bytes& blob, std::uint64_t generation,
                          std::uint8_t roles = kRoleGateway) {
    return call(wire::OpId::kRewrapIdentity, wire::encodeMessage(wire::RewrapIdentityRequest{p, blob, generation}),
                roles);
  };
  // Nothing older than the current KEK (generation 1) exists yet.
  EXPECT_EQ(rewrap(phone, sealed.value(), 1).status, ErrorCode::kBadField);
  EXPECT_EQ(rewrap(phone, sealed.value(), 0).status, ErrorCode::kBadField);
  EXPECT_EQ(rewrap("not a phone", sealed.value(), 1).status, ErrorCode::kBadField);
  EXPECT_EQ(rewrap(phone, sealed.value(), 1, kRoleAdmin).status, ErrorCode::kNotPermitted);

  // A KEK switch: generation 2 made and named current, 1 kept as previous.
  auto pin = hsm::readPinFile(appliance_.config().hsm.pin_file);
  ASSERT_TRUE(pin.ok());
  auto session = hsm::Session::open(token_->functions(), token_->slot());
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(session->loginUser(pin.value()).ok());
  ASSERT_TRUE(hsm::ensureKey(session.value(), token_->policy().generation("kek", 2)).ok());
  hsm::RotationState state = token_->rotation();
  state.version += 1;
  state.kek = {2, 0, 0, 1, 0};
  ASSERT_TRUE(hsm::writeRotationState(session.value(), state).ok());
  auto reloaded = token_->reloadIfRotated();
  ASSERT_TRUE(reloaded.ok() && reloaded.value());

  EXPECT_EQ(rewrap("+8613800138201", sealed.value(), 1).status, ErrorCode::kDecryptFailed) << "another phone's row";
  EXPECT_EQ(rewrap(phone, sealed.value(), 2).status, ErrorCode::kBadField) << "already current";
  auto moved = rewrap(phone, sealed.value(), 1);
  ASSERT_EQ(moved.status, ErrorCode::kOk);
  auto answer = wire::parseMessage<wire::RewrapIdentityResponse>(moved.payload);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->generation, 2u);
  EXPECT_NE(answer->identity, sealed.value());
  auto opened = token_->call<Secret>([&](hsm::Lane& lane) -> Result<Secret> {
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE kek, lane.kekKey(2));
    return lane.open(kek, suite::identityAad(phone), answer->identity);
  });
  ASSERT_TRUE(opened.ok()) << opened.error().detail;
  EXPECT_EQ(opened->exposeSecretText(), "Zhang San|110101199003070000");
}

}  // namespace
}  // namespace mpay::signer
