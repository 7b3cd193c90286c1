#include "client/flows.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "ca/certificate.h"
#include "common/signer_protocol.h"
#include "gateway/json_fields.h"
#include "suite/primitives.h"

namespace mpay::client {
namespace {

using gateway::base64url;

Bytes field(const Json& j, const std::string& key) {
  auto r = gateway::unbase64url(j->optValue<std::string>(key, ""), 1 << 16);
  return r.ok() ? r.value() : Bytes{};
}

ApiFailure failureOf(const Error& e) { return localFailure(std::string(errorName(e.code)) + ": " + e.detail); }

}  // namespace

ApiFailure localFailure(std::string message) { return ApiFailure{0, "", std::move(message)}; }

namespace {

bool endorsedBy(ByteView ca_cert, std::uint64_t generation, ByteView point, ByteView signature) {
  auto ca_key = ca::certificatePublicKey(ca_cert);
  return ca_key && ca_key->verifyDer(suite::serviceKeyEndorsementBytes(generation, point), signature);
}

}  // namespace

Result<PlatformData> checkPlatformChange(const PlatformData& kept, const PlatformData& fresh) {
  PlatformData taken = fresh;
  taken.trusted_cas = trustOf(kept).anchors;
  auto fresh_key = ca::certificatePublicKey(fresh.ca_cert);
  auto kept_key = ca::certificatePublicKey(kept.ca_cert);
  if (!fresh_key) return fail(ErrorCode::kBadCertificate, "the platform's CA certificate does not parse: refused");
  // The same CA is the same key: what the phone holds of it stays, whatever
  // bytes the answer carries (an ECDSA signature has more than one encoding).
  if (kept_key && fresh_key->point() == kept_key->point()) {
    taken.ca_cert = kept.ca_cert;
    taken.ca_generation = kept.ca_generation;
  } else {
    // Only forward from the CA presented last, through cross certificates
    // (each certifies a newer CA's key by an older one; nothing certifies an
    // older key): never to a CA of someone else's, never back to one trusted
    // before, and a retired CA's key, if it leaked, certifies nothing the
    // phone follows. The generation in the answer is not signed: not relied on.
    for (const Bytes& trusted : taken.trusted_cas) {
      auto trusted_key = ca::certificatePublicKey(trusted);
      if (trusted_key && trusted_key->point() == fresh_key->point())
        return fail(ErrorCode::kBadCertificate, "the platform presents a CA this phone followed before: refused");
    }
    if (auto follows = ca::verifyCaSuccessor(fresh.ca_cert, ca::CaTrust{{kept.ca_cert}, fresh.ca_cross});
        !follows.ok())
      return fail(ErrorCode::kBadCertificate, "the platform presents a new CA that the CA this phone trusts did "
                                              "not certify (" + follows.error().detail + "): refused");
    taken.trusted_cas.push_back(fresh.ca_cert);
  }
  if (fresh.service_point == kept.service_point) {
    // The same key: what the phone knows of it stays, whatever this answer says.
    taken.service_generation = kept.service_generation;
    taken.service_endorsement = kept.service_endorsement;
    return taken;
  }
  // Vouched for by the CA presented with it, which the phone now trusts.
  if (fresh.service_generation <= kept.service_generation ||
      !endorsedBy(taken.ca_cert, fresh.service_generation, fresh.service_point, fresh.service_endorsement))
    return fail(ErrorCode::kBadSignature,
                "the platform announces a service key its CA has not signed for a newer generation: refused");
  return taken;
}

FlowResult<PlatformData> fetchPlatform(ApiClient& api) {
  MPAY_ASSIGN_OR_RETURN(Json answer, api.get("/v1/platform"));
  PlatformData p;
  // An answer of the wrong shape (a missing field, a null, a string for a
  // number) is refused as a whole; Poco's typed getters throw on it.
  try {
    p = PlatformData{answer->getValue<std::string>("suite"), field(answer, "service_public_key"),
                     field(answer, "ca_certificate"), field(answer, "receipt_certificate"), {}, 1, {}, 1, {}, {}};
    // A platform from before CA rotation has neither: generation 1, no links.
    if (answer->has("ca_generation")) {
      const Poco::Dynamic::Var generation = answer->get("ca_generation");
      if (!generation.isInteger() || generation.isString() || generation.convert<Poco::Int64>() < 1 ||
          generation.convert<Poco::Int64>() > 0xffffffffLL)
        return localFailure("ca_generation is not an integer from 1 to 2^32-1");
      p.ca_generation = static_cast<std::uint64_t>(generation.convert<Poco::Int64>());
    }
    if (answer->has("ca_cross_certificates") && !answer->isArray("ca_cross_certificates"))
      return localFailure("ca_cross_certificates is not an array");
    if (auto list = answer->getArray("ca_cross_certificates")) {
      if (list->size() > wire::kMaxCaLinks) return localFailure("too many ca_cross_certificates");
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto der = gateway::unbase64url(list->getElement<std::string>(static_cast<unsigned>(i)), 1 << 16);
        if (!der) return localFailure("an entry of ca_cross_certificates is not base64url");
        p.ca_cross.push_back(std::move(der).value());
      }
    }
    p.trusted_cas = {p.ca_cert};  // at registration the phone starts to trust this CA
    // A platform from before receipt rotation publishes one certificate.
    if (auto list = answer->getArray("receipt_certificates")) {
      if (list->size() > wire::kMaxReceiptCertificates) return localFailure("too many receipt certificates");
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto der = gateway::unbase64url(list->getElement<std::string>(static_cast<unsigned>(i)), 1 << 16);
        if (!der) return localFailure("a receipt certificate is not base64url");
        p.receipt_certs.push_back(std::move(der).value());
      }
    }
    if (p.receipt_certs.empty()) p.receipt_certs.push_back(p.receipt_cert);
    // The first service key is the one to use: its generation and the CA's word for it.
    if (auto keys = answer->getArray("service_public_keys"); keys && keys->size() > 0) {
      auto first = keys->getObject(0);
      if (!first || field(first, "public_key") != p.service_point)
        return localFailure("service_public_keys must start with service_public_key");
      const Poco::Dynamic::Var generation = first->get("generation");
      if (!generation.isInteger() || generation.isString() || generation.convert<Poco::Int64>() < 1 ||
          generation.convert<Poco::Int64>() > 0xffffffffLL)
        return localFailure("a service key generation is not an integer from 1 to 2^32-1");
      p.service_generation = static_cast<std::uint64_t>(generation.convert<Poco::Int64>());
      p.service_endorsement = field(first, "ca_signature");
    }
  } catch (const Poco::Exception& e) {
    return localFailure("the platform answer is malformed: " + e.displayText());
  }
  if (p.receipt_certs.front() != p.receipt_cert) return localFailure("receipt_certificates must start with receipt_certificate");
  if (p.suite != suite::kSuiteId) return localFailure("platform speaks suite " + p.suite);
  if (!suite::EcPublicKey::fromPoint(p.service_point)) return localFailure("platform service key is not a P-256 point");
  // A rotated key carries the CA's signature, checked here against the CA of
  // this same answer (at registration that CA is what the phone starts to trust).
  if (p.service_generation > 1 && !endorsedBy(p.ca_cert, p.service_generation, p.service_point, p.service_endorsement))
    return localFailure("the service key's generation is not signed by the platform CA");
  return p;
}

FlowResult<std::string> registerPhone(ApiClient& api, const PlatformData& platform, const suite::Info1& info) {
  auto service = suite::EcPublicKey::fromPoint(platform.service_point);
  if (!service) return localFailure("platform service key is not a P-256 point");
  // Check locally first: the platform would refuse the same values.
  if (!suite::parseInfo1(suite::encodeInfo1(info)).ok())
    return localFailure("a registration field is out of range (see docs/protocol.md)");
  auto sealed = sealInfo1(service.value(), info, systemRandom());
  if (!sealed) return failureOf(sealed.error());
  Poco::JSON::Object body;
  body.set("sealed_info1", base64url(sealed.value()));
  MPAY_ASSIGN_OR_RETURN(Json answer, api.post("/v1/register", body));
  return answer->getValue<std::string>("registration_code");
}

FlowResult<Bytes> activatePhone(ApiClient& api, const std::string& phone, const std::string& registration_code,
                                const std::string& confirmation_code) {
  Poco::JSON::Object body;
  body.set("phone", phone);
  body.set("registration_code", registration_code);
  MPAY_ASSIGN_OR_RETURN(Json answer, api.post("/v1/activate", body));
  // S08: the MAC must verify with both codes before anything is kept.
  auto p12 = suite::openRegistrationFile(field(answer, "registration_file"), registration_code, confirmation_code);
  if (!p12) return localFailure("registration file MAC does not verify: wrong confirmation code or a tampered file");
  // Then the platform learns that this phone holds the SMS: only now is the user active.
  auto proof = suite::confirmationProof(phone, p12.value(), registration_code, confirmation_code);
  if (!proof) return failureOf(proof.error());
  Poco::JSON::Object confirm;
  confirm.set("phone", phone);
  confirm.set("proof", base64url(proof.value()));
  MPAY_ASSIGN_OR_RETURN(Json confirmed, api.post("/v1/confirm", confirm));
  (void)confirmed;
  return std::move(p12).value();
}

FlowResult<CachedSession> login(ApiClient& api, const PlatformData& platform, const suite::EcPrivateKey& user_key,
                                const std::string& phone, const Secret& password, std::uint64_t now) {
  auto service = suite::EcPublicKey::fromPoint(platform.service_point);
  if (!service) return localFailure("platform service key invalid");
  Bytes nonce = suite::randomBytes(suite::kNonceLen);
  auto message = buildLogin(service.value(), user_key, phone, password, now, nonce, systemRandom());
  if (!message) return failureOf(message.error());
  Poco::JSON::Object body;
  body.set("phone", phone);
  body.set("c1", base64url(message->c1));
  body.set("c2", base64url(message->c2));
  MPAY_ASSIGN_OR_RETURN(Json answer, api.post("/v1/login", body));
  // S39: open the keys and check the digest with our K.
  auto keys = openLoginKeys(user_key, field(answer, "sealed_keys"), message->k);
  if (!keys) return localFailure("login answer fails its digest check: " + keys.error().detail);
  if (keys->session_id != field(answer, "session_id")) return localFailure("session id mismatch");
  return CachedSession{std::move(keys).value(), answer->getValue<std::uint64_t>("expires_at"), 0};
}

FlowResult<suite::Receipt> pay(ApiClient& api, const PlatformData& platform, const PaymentInput& input,
                               const Secret& pin, const suite::LoginKeys& keys, const suite::EcPrivateKey& user_key) {
  auto message = buildPayment(input, pin, keys, user_key, systemRandom());
  if (!message) return failureOf(message.error());
  const auto& f = message->signed_fields;
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("session_id", base64url(f.session_id));
  body.set("order_no", f.order_no);
  body.set("phone", f.phone);
  body.set("amount_minor", f.amount_minor);
  body.set("currency", f.currency);
  if (input.critical) {
    body.set("critical_ciphertext", base64url(message->critical_ciphertext));
  } else {
    body.set("content", f.content);
    body.set("pin_ciphertext", base64url(f.pin_ciphertext));
  }
  body.set("counter", f.counter);
  body.set("timestamp", f.timestamp);
  body.set("signature", base64url(message->signature));
  MPAY_ASSIGN_OR_RETURN(Json answer, api.post("/v1/pay", body));
  // S46: the receipt must be signed by a published receipt key of the platform, chained to its CA.
  auto receipt = verifyReceiptByAny(field(answer, "receipt"), field(answer, "receipt_signature"),
                                    platform.receipt_certs, trustOf(platform));
  if (!receipt) {
    // The money may have moved: before refusing the receipt, take the
    // platform's receipt certificates and CA links once more (a receipt key
    // or CA rotation may have switched since they were fetched); the CAs
    // trusted stay the kept ones.
    auto fresh = fetchPlatform(api);
    if (fresh)
      receipt = verifyReceiptByAny(field(answer, "receipt"), field(answer, "receipt_signature"), fresh->receipt_certs,
                                   ca::CaTrust{trustOf(platform).anchors, fresh->ca_cross});
  }
  if (!receipt) return localFailure("receipt signature does not verify: " + receipt.error().detail);
  if (receipt->order_no != input.order_no || receipt->amount_minor != input.amount_minor || receipt->phone != input.phone)
    return localFailure("receipt does not match this payment");
  return std::move(receipt).value();
}

}  // namespace mpay::client
