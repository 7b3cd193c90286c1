// The SMS webhook notifier against a real HTTP server on loopback.
#include <gtest/gtest.h>

#include <fstream>

#include "gateway/http_client.h"
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

// The provider's chain is checked against gateway.outbound_ca_file (or the
// system's trust store) and its certificate's names against the URL's host:
// the dev appliance's TLS certificate names localhost and 127.0.0.1, and is
// issued by the platform CA, which no system trust store holds.
TEST(WebhookNotifier, HttpsChecksTheProvidersChainAndName) {
  test::DevAppliance dev;
  const std::string key = dev.dir() + "/tls/gateway.key", cert = dev.dir() + "/tls/gateway.pem";
  test::WebhookReceiver provider("127.0.0.1", key, cert);
  test::WebhookReceiver impostor("127.0.0.2", key, cert);  // a valid certificate, for another name
  const std::string secret_file = dev.dir() + "/webhook.secret";
  std::ofstream(secret_file) << "0123456789abcdef0123456789abcdef\n";
  const OutboxMessage message{"id-1", "+8613800138000", "12345678"};

  ASSERT_TRUE(configureOutboundTls(dev.config().public_dir + "/ca.pem").ok());
  auto to_provider = webhookNotifier(provider.url(), secret_file, 2000);
  ASSERT_TRUE(to_provider.ok()) << to_provider.error().detail;
  auto sent = to_provider.value()->deliver(message);
  EXPECT_TRUE(sent.ok()) << sent.error().detail;
  EXPECT_EQ(provider.deliveries().size(), 1u);
  auto to_impostor = webhookNotifier(impostor.url(), secret_file, 2000);
  ASSERT_TRUE(to_impostor.ok());
  EXPECT_FALSE(to_impostor.value()->deliver(message).ok()) << "127.0.0.2 is not a name in the certificate";
  EXPECT_TRUE(impostor.deliveries().empty()) << "nothing was sent to it";

  ASSERT_TRUE(configureOutboundTls("").ok());
  auto trusting_the_system = webhookNotifier(provider.url(), secret_file, 2000);
  ASSERT_TRUE(trusting_the_system.ok());
  EXPECT_FALSE(trusting_the_system.value()->deliver(message).ok()) << "the platform CA is in no system trust store";
  EXPECT_EQ(provider.deliveries().size(), 1u);
  EXPECT_FALSE(configureOutboundTls(dev.dir() + "/no-such-ca.pem").ok());

  // By DNS name: localhost is in the certificate too.
  ASSERT_TRUE(configureOutboundTls(dev.config().public_dir + "/ca.pem").ok());
  std::string by_name = provider.url();
  by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
  auto named = webhookNotifier(by_name, secret_file, 2000);
  ASSERT_TRUE(named.ok());
  auto sent_by_name = named.value()->deliver(message);
  EXPECT_TRUE(sent_by_name.ok()) << sent_by_name.error().detail;
  EXPECT_EQ(provider.deliveries().size(), 2u);
}

TEST(WebhookNotifier, RefusesShortSecretsAndBadUrls) {
  test::TempDir dir;
  const std::string secret_file = dir.path() + "/short";
  std::ofstream(secret_file) << "short";
  EXPECT_FALSE(webhookNotifier("http://127.0.0.1:1/sms", secret_file, 1000).ok());
  std::ofstream(secret_file, std::ios::trunc) << "0123456789abcdef0123456789abcdef";
  EXPECT_FALSE(webhookNotifier("ftp://127.0.0.1/sms", secret_file, 1000).ok());
  // Codes cross a network only over TLS.
  EXPECT_FALSE(webhookNotifier("http://192.0.2.1/sms", secret_file, 1000).ok());
  EXPECT_FALSE(webhookNotifier("http://sms.example.com/sms", secret_file, 1000).ok());
  EXPECT_TRUE(webhookNotifier("http://localhost:1/sms", secret_file, 1000).ok());
  EXPECT_TRUE(webhookNotifier("http://127.0.0.1:1/sms", secret_file, 1000).ok());
  EXPECT_TRUE(webhookNotifier("https://sms.example.com/sms", secret_file, 1000).ok());
}

}  // namespace
}  // namespace mpay::gateway
