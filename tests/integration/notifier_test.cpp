// The SMS webhook notifier against a real HTTP server on loopback.
#include <gtest/gtest.h>

#include <fstream>

#include "gateway/notifier.h"
#include "support/dev_appliance.h"
#include "support/running_appliance.h"
#include "support/webhook_receiver.h"

namespace mpay::gateway {
namespace {

TEST(WebhookNotifier, PostsTheCodeWithAnHmacSignatureHeader) {
  test::WebhookReceiver receiver;
  test::TempDir dir;
  const std::string secret_file = dir.path() + "/webhook.secret";
  std::ofstream(secret_file) << "0123456789abcdef0123456789abcdef\n";
  auto notifier = webhookNotifier(receiver.url(), secret_file, 2000);
  ASSERT_TRUE(notifier.ok()) << notifier.error().detail;
  ASSERT_TRUE(notifier.value()->deliver({"id-1", "+8613800138000", "12345678"}).ok());
  auto got = receiver.deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(test::jsonField(got[0].body, "code"), "12345678");
  EXPECT_EQ(test::jsonField(got[0].body, "phone"), "+8613800138000");
  EXPECT_EQ(got[0].signature, webhookSignature(asBytes("0123456789abcdef0123456789abcdef"), got[0].body));
  EXPECT_EQ(got[0].signature.size(), 64u);
  receiver.answerWith(503);
  EXPECT_FALSE(notifier.value()->deliver({"id-2", "+8613800138000", "87654321"}).ok()) << "a refused delivery is an error";
}

TEST(WebhookNotifier, RefusesShortSecretsAndBadUrls) {
  test::TempDir dir;
  const std::string secret_file = dir.path() + "/short";
  std::ofstream(secret_file) << "short";
  EXPECT_FALSE(webhookNotifier("http://127.0.0.1:1/sms", secret_file, 1000).ok());
  std::ofstream(secret_file, std::ios::trunc) << "0123456789abcdef0123456789abcdef";
  EXPECT_FALSE(webhookNotifier("ftp://127.0.0.1/sms", secret_file, 1000).ok());
}

}  // namespace
}  // namespace mpay::gateway
