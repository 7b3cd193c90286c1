// The test vectors of docs/protocol.md §11: fixed keys and randoms in,
// exact bytes out, computed with the same functions the phone and the
// signer use. The doc's values must match. To regenerate the doc section
// after a deliberate protocol change: MPAY_PRINT_VECTORS=1 mpay_unit_tests
// --gtest_filter='ProtocolVectors.*' and paste the printed lines.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "suite/ecies.h"
#include "suite/messages.h"
#include "suite/primitives.h"
#include "support/dev_appliance.h"
#include "support/wycheproof.h"

namespace mpay::suite {
namespace {

Bytes filled(std::size_t n, std::uint8_t first, std::uint8_t step) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(first + step * i);
  return b;
}

EcPrivateKey key(std::uint8_t first) { return EcPrivateKey::fromScalar(Secret::copyOf(filled(32, first, 3))).value(); }

Bytes gcm(ByteView key_bytes, ByteView iv, ByteView aad, ByteView plaintext) {
  Bytes out(iv.begin(), iv.end());
  Bytes ct = aesGcmSeal(key_bytes, iv, aad, plaintext).value();
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

std::map<std::string, std::string> docVectors() {
  std::ifstream in(test::sourceDir() + "/docs/protocol.md");
  std::stringstream s;
  s << in.rdbuf();
  const std::string doc = s.str();
  auto a = doc.find("<!-- BEGIN test-vectors -->"), b = doc.find("<!-- END test-vectors -->");
  std::map<std::string, std::string> out;
  if (a == std::string::npos || b == std::string::npos) return out;
  std::istringstream lines(doc.substr(a, b - a));
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find(" = ");
    if (eq == std::string::npos || line.rfind("    ", 0) != 0) continue;
    out[line.substr(4, eq - 4)] = line.substr(eq + 3);
  }
  return out;
}

TEST(ProtocolVectors, DocumentedBytesAreWhatTheCodeProduces) {
  std::vector<std::pair<std::string, std::string>> v;  // in document order
  auto put = [&](const std::string& name, ByteView bytes) { v.emplace_back(name, hexEncode(bytes)); };

  const EcPrivateKey service = key(0x10), user = key(0x20);
  put("service.scalar", filled(32, 0x10, 3));
  put("service.public", service.publicKey().point());
  put("user.scalar", filled(32, 0x20, 3));
  put("user.public", user.publicKey().point());

  // Registration (§3).
  Info1 info{"+8613800138000", "356938035643809", "89860012345678901234", Secret::copyOf(std::string_view("correct horse 42")),
             Secret::copyOf(std::string_view("246810")), "Zhang San", "110101199003070000"};
  Secret info1 = encodeInfo1(info);
  put("register.info1", info1.exposeSecret());
  put("register.ephemeral_scalar", filled(32, 0x30, 3));
  put("register.sealed_info1", eciesSeal(service.publicKey(), label::kRegister, info1.exposeSecret(), key(0x30)).value());
  put("register.info3", info3Password(info.phone, info.imei, info.sim, info.password).exposeSecret());
  const Bytes p12 = filled(48, 0x00, 1);
  put("regfile.p12", p12);
  put("regfile.registration_code", asBytes("187599639250"));
  put("regfile.confirmation_code", asBytes("91780787"));
  put("regfile.file", buildRegistrationFile(p12, "187599639250", "91780787").value());
  put("confirm.proof", confirmationProof("+8613800138000", p12, "187599639250", "91780787").value());

  // Login (§5). The signature is randomized: the doc carries one, and it must verify.
  const Secret k = Secret::copyOf(filled(32, 0x40, 1));
  const Bytes nonce = filled(16, 0x50, 1);
  const std::uint64_t ts = 1795640000;
  Secret signed_bytes = loginSignedBytes(k, info.phone, info.password, ts, nonce);
  put("login.k", k.exposeSecret());
  put("login.nonce", nonce);
  put("login.signed", signed_bytes.exposeSecret());
  const auto doc = docVectors();
  Bytes signature = doc.contains("login.signature") ? test::unhex(doc.at("login.signature")) : Bytes{};
  if (std::getenv("MPAY_PRINT_VECTORS")) signature = user.signDer(signed_bytes.exposeSecret()).value();
  EXPECT_TRUE(user.publicKey().verifyDer(signed_bytes.exposeSecret(), signature)) << "login.signature must verify";
  put("login.signature", signature);
  LoginC1 c1{info.phone, Secret::copyOf(std::string_view("correct horse 42")), ts, nonce, signature};
  Secret c1_plain = encodeLoginC1(c1);
  const Bytes c1_iv = filled(12, 0x60, 1);
  put("login.c1_iv", c1_iv);
  put("login.c1", gcm(k.exposeSecret(), c1_iv, asBytes(label::kLoginC1), c1_plain.exposeSecret()));
  put("login.c2_ephemeral_scalar", filled(32, 0x70, 3));
  put("login.c2", eciesSeal(service.publicKey(), label::kLoginKey, k.exposeSecret(), key(0x70)).value());

  // Session keys (§5, S37-S38).
  LoginKeys keys{Secret::copyOf(filled(32, 0x80, 1)), Secret::copyOf(filled(32, 0xa0, 1)), filled(16, 0xc0, 1), {}};
  Secret digest_input = loginDigestInput(keys.message_key, keys.pin_key, keys.session_id);
  keys.digest = hmacSha256(k.exposeSecret(), digest_input.exposeSecret()).value();
  put("keys.message_key", keys.message_key.exposeSecret());
  put("keys.pin_key", keys.pin_key.exposeSecret());
  put("keys.session_id", keys.session_id);
  put("keys.digest", keys.digest);
  put("keys.ephemeral_scalar", filled(32, 0x90, 3));
  Secret keys_plain = encodeLoginKeys(keys);
  put("keys.sealed", eciesSeal(user.publicKey(), label::kLoginKeys, keys_plain.exposeSecret(), key(0x90)).value());

  // Payment (§6).
  const Bytes pin_iv = filled(12, 0xd0, 1);
  Bytes pin_ct = gcm(keys.pin_key.exposeSecret(), pin_iv, pinAad(keys.session_id, "ORDER-1"), asBytes("246810"));
  put("pay.pin_iv", pin_iv);
  put("pay.pin_ciphertext", pin_ct);
  PaymentFields f{"ORDER-1", info.phone, 1234, "CNY", "coffee", pin_ct, keys.session_id, 1, ts};
  put("pay.signed", paymentSignedBytes(f));
  const Bytes crit_iv = filled(12, 0xe0, 1);
  put("pay.critical_iv", crit_iv);
  put("pay.critical_ciphertext", gcm(keys.message_key.exposeSecret(), crit_iv,
                                     criticalAad(keys.session_id, "ORDER-1", info.phone),
                                     encodeCriticalPlaintext("coffee", pin_ct)));
  put("receipt.bytes", receiptBytes({"SIM1", PaymentResult::kApproved, "ORDER-1", info.phone, 1234, "CNY", ts}));
  // What the CA signs for service key generation 2 (§7.1), with service.public as the key.
  put("service_key.endorsed", serviceKeyEndorsementBytes(2, service.publicKey().point()));

  if (std::getenv("MPAY_PRINT_VECTORS")) {
    for (const auto& [name, hex] : v) std::cout << "    " << name << " = " << hex << "\n";
  }
  ASSERT_FALSE(doc.empty()) << "docs/protocol.md has no test-vectors section";
  for (const auto& [name, hex] : v) {
    ASSERT_TRUE(doc.contains(name)) << name << " missing from docs/protocol.md";
    EXPECT_EQ(doc.at(name), hex) << name;
  }
  EXPECT_EQ(doc.size(), v.size());
}

}  // namespace
}  // namespace mpay::suite
