// mpay_fuzz_seeds DIR: writes the fuzz targets' seed corpus, DIR/<target>/<name>:
// valid inputs made by the project's own encoders, so that the fuzzers start
// past the first length check and the seeds never drift from the code.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>

#include "common/signer_protocol.h"
#include "fuzz_fixtures.h"
#include "gateway/http_api.h"
#include "suite/ecies.h"
#include "suite/messages.h"

namespace {

using namespace mpay;
namespace fs = std::filesystem;
using fuzz::PhoneCase;

constexpr std::string_view kPhone = "+8613800138000";

class SeedWriter {
 public:
  SeedWriter(fs::path dir, std::string target) : dir_(std::move(dir) / std::move(target)) {
    fs::create_directories(dir_);
  }
  void write(const std::string& name, ByteView bytes) {
    std::ofstream(dir_ / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }

 private:
  fs::path dir_;
};

// A seed the parser refuses would only test the first length check.
void require(bool parses, const std::string& name) {
  if (parses) return;
  std::cerr << "mpay_fuzz_seeds: the seed " << name << " does not parse\n";
  std::exit(1);
}

template <typename M>
void frame(SeedWriter& out, const std::string& name, wire::OpId op, const M& message) {
  require(wire::parseMessage<M>(wire::encodeMessage(message)).ok(), name);
  const Bytes framed = wire::encodeRequest(op, 7, wire::encodeMessage(message));
  out.write(name, ByteView(framed).subspan(4));  // the body after the u32 length
}

suite::Info1 sampleInfo1() {
  suite::Info1 info;
  info.phone = kPhone;
  info.imei = "490154203237518";
  info.sim = "89860012345678901234";
  info.password = Secret::copyOf(std::string_view("correct horse 42"));
  info.pin = Secret::copyOf(std::string_view("246810"));
  info.name = "张三";
  info.id_number = "11010519491231002X";
  return info;
}

Bytes sealedInfo1() {
  const Secret plaintext = suite::encodeInfo1(sampleInfo1());
  return suite::eciesSeal(fuzz::recipientKey().publicKey(), suite::label::kRegister, plaintext.exposeSecret(),
                          fuzz::ephemeralKey())
      .value();
}

void signerFrames(const fs::path& dir) {
  SeedWriter out(dir, "signer_frames");
  frame(out, "platform_info", wire::OpId::kPlatformInfo, wire::Empty{});
  frame(out, "record_start", wire::OpId::kRecordStart,
        wire::RecordStartRequest{"gateway", std::string(64, 'a')});
  frame(out, "open_registration", wire::OpId::kOpenRegistration, wire::OpenRegistrationRequest{sealedInfo1()});
  wire::OpenLoginRequest login{Bytes(300, 0x30), Bytes(16, 1), Bytes(32, 2), Bytes(200, 3), Bytes(97, 4), 0};
  frame(out, "open_login", wire::OpId::kOpenLogin, login);
  wire::OpenPaymentRequest pay;
  pay.certificate = Bytes(300, 0x30);
  pay.salt = Bytes(16, 1);
  pay.pin_verifier = Bytes(32, 2);
  pay.wrapped_keys = Bytes(80, 3);
  pay.session_id = Bytes(16, 4);
  pay.order_no = "ORDER-1";
  pay.phone = kPhone;
  pay.amount_minor = 150;
  pay.currency = "CNY";
  pay.content = "coffee";
  pay.pin_ciphertext = Bytes(34, 5);
  pay.counter = 1;
  pay.timestamp = 1700000000;
  pay.signature = Bytes(64, 6);
  frame(out, "open_payment", wire::OpId::kOpenPayment, pay);
  wire::SignReceiptRequest receipt{Bytes(wire::kPermitLen, 7), "T-1", 1, "ORDER-1", std::string(kPhone), 150, "CNY",
                                   1700000000, Bytes(70, 8)};
  frame(out, "sign_receipt", wire::OpId::kSignReceipt, receipt);
  frame(out, "rewrap_identity", wire::OpId::kRewrapIdentity,
        wire::RewrapIdentityRequest{std::string(kPhone), Bytes(60, 9), 1});
  frame(out, "health_response", wire::OpId::kHealth, wire::HealthResponse{0});
  frame(out, "audit_head_response", wire::OpId::kAuditHead, wire::AuditHeadResponse{9, std::string(64, 'b')});
  frame(out, "audit_tail_response", wire::OpId::kAuditTail, wire::AuditTailResponse{Bytes(300, 'r')});
  wire::OpenLoginResponse opened{std::string(kPhone), 1700000000, Bytes(16, 1), Bytes(16, 2), 1700000900,
                                 Bytes(180, 3), Bytes(80, 4),  Bytes(32, 5),  2};
  frame(out, "open_login_response", wire::OpId::kOpenLogin, opened);
}

void phone(SeedWriter& out, const std::string& name, PhoneCase which, ByteView input) {
  Bytes seed{static_cast<std::uint8_t>(which)};
  seed.insert(seed.end(), input.begin(), input.end());
  out.write(name, seed);
}

void phoneMessages(const fs::path& dir) {
  SeedWriter out(dir, "phone_messages");
  require(suite::parseInfo1(suite::encodeInfo1(sampleInfo1())).ok(), "info1");
  phone(out, "info1", PhoneCase::kInfo1, suite::encodeInfo1(sampleInfo1()).exposeSecret());
  suite::LoginC1 c1{std::string(kPhone), Secret::copyOf(std::string_view("correct horse 42")), 1700000000,
                    Bytes(16, 1), Bytes(64, 2)};
  require(suite::parseLoginC1(suite::encodeLoginC1(c1)).ok(), "login_c1");
  phone(out, "login_c1", PhoneCase::kLoginC1, suite::encodeLoginC1(c1).exposeSecret());
  suite::LoginKeys keys{Secret::copyOf(Bytes(32, 1)), Secret::copyOf(Bytes(32, 2)), Bytes(16, 3), Bytes(32, 4)};
  require(suite::parseLoginKeys(suite::encodeLoginKeys(keys)).ok(), "login_keys");
  phone(out, "login_keys", PhoneCase::kLoginKeys, suite::encodeLoginKeys(keys).exposeSecret());
  phone(out, "critical", PhoneCase::kCriticalPlaintext, suite::encodeCriticalPlaintext("coffee", Bytes(34, 5)));
  suite::Receipt receipt{"T-1", suite::PaymentResult::kApproved, "ORDER-1", std::string(kPhone), 150, "CNY",
                         1700000000};
  require(suite::parseReceiptBytes(suite::receiptBytes(receipt)).ok(), "receipt");
  phone(out, "receipt", PhoneCase::kReceipt, suite::receiptBytes(receipt));
  phone(out, "registration_file", PhoneCase::kRegistrationFile,
        suite::buildRegistrationFile(Bytes(600, 0x30), fuzz::kRegistrationCode, fuzz::kConfirmationCode).value());
  const auto& key = fuzz::recipientKey();
  phone(out, "point", PhoneCase::kPoint, key.publicKey().point());
  phone(out, "spki", PhoneCase::kSpki, key.publicKey().spkiDer());
  const Bytes der = key.signDer(asBytes("message")).value();
  phone(out, "der_signature", PhoneCase::kDerSignature, der);
  phone(out, "p1363_signature", PhoneCase::kP1363Signature, suite::derToP1363(der).value());
  phone(out, "sealed_info1", PhoneCase::kSealedInfo1, sealedInfo1());
}

void gatewayJson(const fs::path& dir) {
  SeedWriter out(dir, "gateway_json");
  const std::pair<std::string_view, std::string_view> bodies[] = {
      {"/v1/register", R"({"sealed_info1":"BAAB"})"},
      {"/v1/activate", R"({"phone":"+8613800138000","registration_code":"123456789012"})"},
      {"/v1/confirm", R"({"phone":"+8613800138000","proof":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"})"},
      {"/v1/login", R"({"phone":"+8613800138000","c1":"AAEC","c2":"AwQF"})"},
      {"/v1/pay", R"({"session_id":"AAECAwQFBgcICQoLDA0ODw","order_no":"ORDER-1","phone":"+8613800138000",)"
                  R"("amount_minor":150,"currency":"CNY","counter":1,"timestamp":1700000000,)"
                  R"("signature":"AAEC","content":"coffee","pin_ciphertext":"AAEC"})"},
  };
  const auto routes = gateway::jsonRoutes();
  for (const auto& body : bodies) {
    const std::string_view path = body.first, json = body.second;
    const auto route = std::find_if(routes.begin(), routes.end(), [path](const auto& r) { return r.path == path; });
    Bytes seed{static_cast<std::uint8_t>(route - routes.begin())};
    seed.insert(seed.end(), json.begin(), json.end());
    out.write(std::string(path.substr(4)), seed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: mpay_fuzz_seeds DIR\n";
    return 64;
  }
  const fs::path dir = argv[1];
  signerFrames(dir);
  phoneMessages(dir);
  gatewayJson(dir);
  return 0;
}
