// policy/signer.ops: strict parsing, and the budgets the signer enforces.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signer/budgets.h"
#include "signer/ops_policy.h"
#include "support/dev_appliance.h"

namespace mpay::signer {
namespace {

std::string parseError(const std::string& text) {
  auto p = OpsPolicy::parse(text, "signer.ops");
  return p.ok() ? "" : p.error().detail;
}

TEST(OpsPolicy, TheShippedFileParsesAndGrantsTheFourFlowsToTheGatewayOnly) {
  auto p = OpsPolicy::load(test::sourceDir() + "/policy/signer.ops");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  for (const auto& g : p->grants) {
    EXPECT_GT(g.rate.count, 0u) << g.op->name;
    EXPECT_FALSE(g.reason.empty()) << g.op->name << " has no reason";
    if (g.op->flags & kOpensSecrets) {
      EXPECT_EQ(g.role, kRoleGateway) << g.op->name;
    }
  }
  auto login = findOperation(static_cast<std::uint16_t>(wire::OpId::kOpenLogin));
  const int grant = p->find(kRoleGateway, *login);
  ASSERT_GE(grant, 0);
  EXPECT_GT(p->grants[grant].per_user.count, 0u) << "password guessing is bounded per user";
  EXPECT_LT(p->find(kRoleAdmin, *login), 0);
}

TEST(OpsPolicy, EveryMistakeStopsTheParseWithFileAndLine) {
  EXPECT_EQ(parseError("gateway health rate=1/s\n"), "");
  EXPECT_NE(parseError("").find("empty list"), std::string::npos);
  EXPECT_NE(parseError("# only comments\n").find("empty list"), std::string::npos);
  EXPECT_NE(parseError("\nphone health rate=1/s\n").find("signer.ops:2: unknown role"), std::string::npos);
  EXPECT_NE(parseError("gateway frobnicate rate=1/s\n").find("signer.ops:1: unknown operation"), std::string::npos);
  EXPECT_NE(parseError("gateway test_probe rate=1/s\n").find("unknown operation"), std::string::npos);
  EXPECT_NE(parseError("gateway audit_head rate=1/s\n").find("may not be granted to gateway"), std::string::npos);
  EXPECT_NE(parseError("admin open_login rate=1/s\n").find("may not be granted to admin"), std::string::npos);
  EXPECT_NE(parseError("gateway health\n").find("expected"), std::string::npos);
  EXPECT_NE(parseError("gateway health per_user=1/s rate=1/s\n").find("carries no user"), std::string::npos);
  EXPECT_NE(parseError("gateway open_login per_user=1/s\n").find("needs a rate"), std::string::npos);
  EXPECT_NE(parseError("gateway health rate=1/s\ngateway health rate=2/s\n").find("signer.ops:2: duplicate"),
            std::string::npos);
  EXPECT_NE(parseError("gateway health rate=1/day\n").find("N/s, N/min or N/h"), std::string::npos);
  EXPECT_NE(parseError("gateway health rate=0/s\n").find("allows nothing"), std::string::npos);
  EXPECT_NE(parseError("gateway health rate=x/s\n").find("must start with a number"), std::string::npos);
  EXPECT_NE(parseError("gateway health rate=1/s burst=3\n").find("unknown word 'burst=3'"), std::string::npos);
  EXPECT_NE(parseError("gateway health rate=1/s rate=2/s\n").find("duplicate rate"), std::string::npos);
}

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(Budgets, ARoleBudgetRefillsAtItsRate) {
  auto p = OpsPolicy::parse("gateway health rate=3/min\n", "t");
  ASSERT_TRUE(p.ok());
  auto b = Budgets::create(p.value());
  ASSERT_TRUE(b.ok());
  const std::int64_t t0 = monotonicNanos();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*b)->take(0, {}, t0)) << i;
  EXPECT_FALSE((*b)->take(0, {}, t0));
  EXPECT_FALSE((*b)->take(0, {}, t0 + 19 * kSecond));
  EXPECT_TRUE((*b)->take(0, {}, t0 + 21 * kSecond)) << "one call back every 20 s";
  EXPECT_FALSE((*b)->take(0, {}, t0 + 22 * kSecond));
}

TEST(Budgets, PerUserBudgetsAreSeparateAndARefusalCostsTheRoleNothing) {
  auto p = OpsPolicy::parse("gateway open_login rate=5/min per_user=2/min\n", "t");
  ASSERT_TRUE(p.ok()) << p.error().detail;
  auto b = Budgets::create(p.value());
  ASSERT_TRUE(b.ok());
  const Bytes alice = {1, 2, 3}, bob = {4, 5, 6}, carol = {7}, dave = {8};
  const std::int64_t t0 = monotonicNanos();
  EXPECT_TRUE((*b)->take(0, alice, t0));
  EXPECT_TRUE((*b)->take(0, alice, t0));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE((*b)->take(0, alice, t0)) << "alice is over her budget";
  EXPECT_TRUE((*b)->take(0, bob, t0));
  EXPECT_TRUE((*b)->take(0, bob, t0));
  EXPECT_TRUE((*b)->take(0, carol, t0)) << "alice's refusals did not spend the role's five";
  EXPECT_FALSE((*b)->take(0, dave, t0)) << "the role's five are spent";
  EXPECT_TRUE((*b)->take(0, alice, t0 + 31 * kSecond));
}

TEST(Budgets, WorkersShareOneBudget) {
  auto p = OpsPolicy::parse("gateway health rate=4/h\n", "t");
  ASSERT_TRUE(p.ok());
  auto b = Budgets::create(p.value());
  ASSERT_TRUE(b.ok());
  const std::int64_t t0 = monotonicNanos();
  pid_t child = fork();
  if (child == 0) _exit((*b)->take(0, {}, t0) && (*b)->take(0, {}, t0) && (*b)->take(0, {}, t0) ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE((*b)->take(0, {}, t0));
  EXPECT_FALSE((*b)->take(0, {}, t0)) << "the other process took three of four";
}

}  // namespace
}  // namespace mpay::signer
