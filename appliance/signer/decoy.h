// The credential of nobody. open_login for a number that has no user (the
// gateway sends an empty certificate) is checked against it, so that the
// refusal costs what a known number's wrong password costs: a certificate
// chain, ECDH and C1, a signature check and a verifier in the token
// (docs/threat-model.md, "What remains observable").
#pragma once
#include "common/bytes.h"
#include "common/result.h"
#include "hsm/lane.h"

namespace mpay::signer {

struct DecoyCredential {
  Bytes ca_certificate;    // a self-signed CA of the decoy's own, not the platform's
  Bytes user_certificate;  // a user-profile certificate that CA issued
  Bytes salt, password_verifier;  // random: no password has this verifier
};

// Made once per process from the token's RNG. Its private keys live only
// while the two certificates are issued: nothing can sign as the decoy.
Result<const DecoyCredential*> decoyCredential(const hsm::Lane& lane);

}  // namespace mpay::signer
