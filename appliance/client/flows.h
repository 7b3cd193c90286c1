// The four flows against a gateway, in memory: each step of docs/protocol.md
// §7 with the phone's own checks. mpay-client keeps what they return in its
// state directory; mpay-bench keeps it for many phones at once.
#pragma once
#include <string>

#include "client/api_client.h"
#include "client/device_state.h"
#include "client/phone.h"

namespace mpay::client {

template <typename T>
using FlowResult = Result<T, ApiFailure>;

// A failure found on the phone (http_status 0, no code): a check the
// gateway's answer did not pass, or a value the phone refuses to send.
ApiFailure localFailure(std::string message);

// Whether a phone that kept `kept` may take `fresh`: the same CA, and a
// changed service key only when the CA signed it for a newer generation —
// so that neither a gateway nor anyone in the TLS path can hand out a key of
// its own, or bring back an older one.
// Returns what to keep: a changed key with its generation and signature, or
// the kept key's own generation and signature whatever `fresh` says of it.
Result<PlatformData> checkPlatformChange(const PlatformData& kept, const PlatformData& fresh);

// S01: the platform's suite, service key and certificates.
FlowResult<PlatformData> fetchPlatform(ApiClient& api);

// S02-S06: info1 sealed to the service key; returns the registration code.
FlowResult<std::string> registerPhone(ApiClient& api, const PlatformData& platform, const suite::Info1& info);

// S07-S08: the registration file, its MAC checked with both codes, then the
// proof of both codes sent to /v1/confirm; returns the certificate file (PKCS#12).
FlowResult<Bytes> activatePhone(ApiClient& api, const std::string& phone, const std::string& registration_code,
                                const std::string& confirmation_code);

// S34-S39: a new session, its keys opened and the digest checked with K.
FlowResult<CachedSession> login(ApiClient& api, const PlatformData& platform, const suite::EcPrivateKey& user_key,
                                const std::string& phone, const Secret& password, std::uint64_t now);

// S44-S46: `input.counter` and `timestamp` set by the caller; the receipt's
// signature is checked against the platform's receipt certificate and CA,
// and its order, amount and phone against the request.
FlowResult<suite::Receipt> pay(ApiClient& api, const PlatformData& platform, const PaymentInput& input,
                               const Secret& pin, const suite::LoginKeys& keys, const suite::EcPrivateKey& user_key);

}  // namespace mpay::client
