// Key creation from policy/keys templates: the only place that turns a
// KeyTemplate into PKCS#11 attributes. Used by the key ceremony (token keys)
// and by enrollment (per-registration session keys).
#pragma once
#include "common/secret.h"
#include "hsm/key_policy.h"
#include "hsm/session.h"

namespace mpay::hsm {

struct KeyPairHandles {
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
};

Result<KeyPairHandles> generateKeyPair(const Session& session, const KeyTemplate& t);
Result<CK_OBJECT_HANDLE> generateSecretKey(const Session& session, const KeyTemplate& t);
// An AES key object from a value the signer chose (the one-time wrapping key).
Result<CK_OBJECT_HANDLE> createSecretKey(const Session& session, const KeyTemplate& t, const Secret& value);

// ECDH with the peer's uncompressed point: a session object made from the
// ecdh-secret template, which the caller reads and destroys.
Result<CK_OBJECT_HANDLE> deriveEcdhSecret(const Session& session, CK_OBJECT_HANDLE private_key, ByteView peer_point,
                                          const KeyTemplate& t);

// The private (or secret) object class a template produces.
CK_OBJECT_CLASS keyClass(const KeyTemplate& t);

// Creates the key if no object with its label exists. Returns true if created.
Result<bool> ensureKey(const Session& session, const KeyTemplate& t);

}  // namespace mpay::hsm
