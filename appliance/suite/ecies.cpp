#include "suite/ecies.h"

#include "suite/primitives.h"

namespace mpay::suite {
namespace {

Result<Secret> keyAndIv(const Secret& z, ByteView ephemeral, ByteView recipient, std::string_view label) {
  ByteWriter salt;
  salt.raw(ephemeral).raw(recipient);
  return hkdfSha256(z.exposeSecret(), salt.bytes(), asBytes(label), kGcmKeyLen + kGcmIvLen);
}

}  // namespace

Result<Bytes> eciesSeal(const EcPublicKey& recipient, std::string_view label, ByteView plaintext,
                        const EcPrivateKey& ephemeral) {
  MPAY_ASSIGN_OR_RETURN(Secret z, ephemeral.ecdh(recipient));
  const Bytes& e = ephemeral.publicKey().point();
  MPAY_ASSIGN_OR_RETURN(Secret kiv, keyAndIv(z, e, recipient.point(), label));
  auto kiv_bytes = kiv.exposeSecret();
  MPAY_ASSIGN_OR_RETURN(Bytes ct, aesGcmSeal(kiv_bytes.first(kGcmKeyLen), kiv_bytes.subspan(kGcmKeyLen),
                                             asBytes(label), plaintext));
  Bytes out(e);
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<Secret> eciesOpen(ByteView recipient_point, std::string_view label, ByteView sealed,
                         const EcdhFn& derive) {
  if (sealed.size() < kEciesOverhead) return fail(ErrorCode::kDecryptFailed, "sealed box too short");
  // Validate E before it reaches any ECDH: invalid-curve points stop here.
  auto ephemeral = EcPublicKey::fromPoint(sealed.first(kPointLen));
  if (!ephemeral) return fail(ErrorCode::kDecryptFailed, "ephemeral point invalid");
  MPAY_ASSIGN_OR_RETURN(Secret z, derive(ephemeral.value()));
  MPAY_ASSIGN_OR_RETURN(Secret kiv, keyAndIv(z, sealed.first(kPointLen), recipient_point, label));
  auto kiv_bytes = kiv.exposeSecret();
  return aesGcmOpen(kiv_bytes.first(kGcmKeyLen), kiv_bytes.subspan(kGcmKeyLen), asBytes(label),
                    sealed.subspan(kPointLen));
}

}  // namespace mpay::suite
