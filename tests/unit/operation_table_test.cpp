#include <gtest/gtest.h>

#include <set>

#include "signer/operations.h"

namespace mpay::signer {
namespace {

TEST(OperationTable, EveryIdHasExactlyOneRowAndAHandler) {
  std::set<std::uint16_t> ids;
  std::set<std::string_view> names;
  for (const auto& op : operations()) {
    EXPECT_TRUE(ids.insert(static_cast<std::uint16_t>(op.id)).second) << op.name;
    EXPECT_TRUE(names.insert(op.name).second) << op.name;
    EXPECT_NE(op.handler, nullptr) << op.name;
    EXPECT_NE(op.roles, 0) << op.name << " would be callable by nobody";
    EXPECT_FALSE(op.purpose.empty()) << op.name;
  }
  for (auto id : {wire::OpId::kPlatformInfo, wire::OpId::kHealth, wire::OpId::kAuditHead, wire::OpId::kAuditTail, wire::OpId::kRecordStart, wire::OpId::kRecordRotation,
                  wire::OpId::kOpenRegistration, wire::OpId::kOpenLogin, wire::OpId::kOpenPayment,
                  wire::OpId::kSignReceipt, wire::OpId::kRewrapIdentity})
    EXPECT_TRUE(ids.contains(static_cast<std::uint16_t>(id)));
#ifdef MPAY_TEST_HOOKS
  EXPECT_EQ(ids.size(), 12u);  // plus test_probe in test builds
#else
  EXPECT_EQ(ids.size(), 11u);
#endif
}

TEST(OperationTable, UnknownIdsFindNothing) {
  EXPECT_EQ(findOperation(0), nullptr);
  EXPECT_EQ(findOperation(0xffff), nullptr);
  ASSERT_NE(findOperation(0x0011), nullptr);
  EXPECT_EQ(findOperation(0x0011)->name, "open_login");
}

TEST(OperationTable, SecretOperationsAreGatewayOnlyAndAuditHeadIsAdminOnly) {
  for (const auto& op : operations()) {
    if (op.flags & kOpensSecrets) { EXPECT_EQ(op.roles, kRoleGateway) << op.name; }
  }
  EXPECT_EQ(findOperation(static_cast<std::uint16_t>(wire::OpId::kAuditHead))->roles, kRoleAdmin);
}

}  // namespace
}  // namespace mpay::signer
