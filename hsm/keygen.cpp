#include "hsm/keygen.h"

#include <openssl/crypto.h>

#include <vector>

namespace mpay::hsm {
namespace {

// Holds attribute values alive while PKCS#11 reads the template.
class Attributes {
 public:
  void flag(CK_ATTRIBUTE_TYPE type, bool value) {
    bools_.push_back(value ? CK_TRUE : CK_FALSE);
    pending_.push_back({type, bools_.size() - 1, 0});
  }
  void ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    ulongs_.push_back(value);
    pending_.push_back({type, ulongs_.size() - 1, 1});
  }
  void bytes(CK_ATTRIBUTE_TYPE type, ByteView value) {
    blobs_.emplace_back(value.begin(), value.end());
    pending_.push_back({type, blobs_.size() - 1, 2});
  }
  void mechanisms(const std::vector<CK_MECHANISM_TYPE>& m) {
    mechs_ = m;
    pending_.push_back({CKA_ALLOWED_MECHANISMS, 0, 3});
  }
  // Build after all values are in: vector storage no longer moves.
  std::vector<CK_ATTRIBUTE> build() {
    std::vector<CK_ATTRIBUTE> out;
    for (const auto& p : pending_) {
      switch (p.kind) {
        case 0: out.push_back({p.type, &bools_[p.index], sizeof(CK_BBOOL)}); break;
        case 1: out.push_back({p.type, &ulongs_[p.index], sizeof(CK_ULONG)}); break;
        case 2: out.push_back({p.type, blobs_[p.index].data(), blobs_[p.index].size()}); break;
        default: out.push_back({p.type, mechs_.data(), mechs_.size() * sizeof(CK_MECHANISM_TYPE)}); break;
      }
    }
    return out;
  }

 private:
  struct Pending {
    CK_ATTRIBUTE_TYPE type;
    std::size_t index;
    int kind;
  };
  std::vector<CK_BBOOL> bools_;
  std::vector<CK_ULONG> ulongs_;
  std::vector<Bytes> blobs_;
  std::vector<CK_MECHANISM_TYPE> mechs_;
  std::vector<Pending> pending_;
};

void storage(Attributes& a, const KeyTemplate& t) {
  a.bytes(CKA_LABEL, asBytes(t.label));
  a.flag(CKA_TOKEN, t.token);
  a.flag(CKA_MODIFIABLE, t.modifiable);
  a.flag(CKA_COPYABLE, t.copyable);
  a.flag(CKA_DESTROYABLE, t.destroyable);
}

void commonPrivate(Attributes& a, const KeyTemplate& t) {
  storage(a, t);
  a.flag(CKA_PRIVATE, t.private_object);
  a.flag(CKA_SENSITIVE, t.sensitive);
  a.flag(CKA_EXTRACTABLE, t.extractable);
  a.flag(CKA_SIGN, t.sign);
  a.flag(CKA_DERIVE, t.derive);
  a.flag(CKA_DECRYPT, t.decrypt);
  a.flag(CKA_UNWRAP, t.unwrap);
  // Without the attribute SoftHSM2 allows any mechanism: "none" leaves the
  // usage flags above (all false) to refuse every operation.
  if (!t.mechanisms.empty()) a.mechanisms(t.mechanisms);
}

void secretKeyAttributes(Attributes& a, const KeyTemplate& t) {
  a.ulong(CKA_CLASS, CKO_SECRET_KEY);
  a.ulong(CKA_KEY_TYPE, t.kind == KeyKind::kAes256 ? CKK_AES : CKK_GENERIC_SECRET);
  commonPrivate(a, t);
  a.flag(CKA_ENCRYPT, t.encrypt);
  a.flag(CKA_WRAP, t.wrap);
  a.flag(CKA_VERIFY, false);
}

}  // namespace

CK_OBJECT_CLASS keyClass(const KeyTemplate& t) {
  return t.kind == KeyKind::kEcP256 ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
}

Result<KeyPairHandles> generateKeyPair(const Session& session, const KeyTemplate& t) {
  if (t.kind != KeyKind::kEcP256) return fail(ErrorCode::kInternal, "not an EC template: " + t.name);
  Attributes pub;
  pub.ulong(CKA_CLASS, CKO_PUBLIC_KEY);
  pub.ulong(CKA_KEY_TYPE, CKK_EC);
  // The public half: the private key's storage attributes, readable without
  // login (it is public), never copied.
  KeyTemplate public_half = t;
  public_half.copyable = false;
  storage(pub, public_half);
  pub.flag(CKA_PRIVATE, false);
  pub.bytes(CKA_EC_PARAMS, p256EcParams());
  pub.flag(CKA_VERIFY, false);  // verification happens in OpenSSL on public data
  pub.flag(CKA_ENCRYPT, false);
  pub.flag(CKA_WRAP, false);
  pub.flag(CKA_DERIVE, false);
  Attributes priv;
  priv.ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  priv.ulong(CKA_KEY_TYPE, CKK_EC);
  commonPrivate(priv, t);
  auto pub_t = pub.build();
  auto priv_t = priv.build();
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  KeyPairHandles out;
  CK_RV rv = session.fn()->C_GenerateKeyPair(session.handle(), &mech, pub_t.data(), pub_t.size(), priv_t.data(),
                                            priv_t.size(), &out.public_key, &out.private_key);
  if (rv != CKR_OK) return ckError(rv, "C_GenerateKeyPair " + t.name);
  return out;
}

Result<CK_OBJECT_HANDLE> generateSecretKey(const Session& session, const KeyTemplate& t) {
  Attributes a;
  secretKeyAttributes(a, t);
  a.ulong(CKA_VALUE_LEN, 32);
  auto tmpl = a.build();
  CK_MECHANISM mech = {t.kind == KeyKind::kAes256 ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_RV rv = session.fn()->C_GenerateKey(session.handle(), &mech, tmpl.data(), tmpl.size(), &key);
  if (rv != CKR_OK) return ckError(rv, "C_GenerateKey " + t.name);
  return key;
}

Result<CK_OBJECT_HANDLE> createSecretKey(const Session& session, const KeyTemplate& t, const Secret& value) {
  Attributes a;
  secretKeyAttributes(a, t);
  a.bytes(CKA_VALUE, value.exposeSecret());
  auto tmpl = a.build();
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_RV rv = session.fn()->C_CreateObject(session.handle(), tmpl.data(), tmpl.size(), &key);
  // The template holds a copy of the key value: wipe it before it is freed.
  for (auto& attr : tmpl)
    if (attr.type == CKA_VALUE) OPENSSL_cleanse(attr.pValue, attr.ulValueLen);
  if (rv != CKR_OK) return ckError(rv, "C_CreateObject " + t.name);
  return key;
}

Result<CK_OBJECT_HANDLE> deriveEcdhSecret(const Session& session, CK_OBJECT_HANDLE private_key, ByteView peer_point,
                                          const KeyTemplate& t) {
  CK_ECDH1_DERIVE_PARAMS params{};
  params.kdf = CKD_NULL;
  params.pPublicData = const_cast<std::uint8_t*>(peer_point.data());
  params.ulPublicDataLen = peer_point.size();
  CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof params};
  Attributes a;
  secretKeyAttributes(a, t);
  a.ulong(CKA_VALUE_LEN, 32);
  auto tmpl = a.build();
  CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
  CK_RV rv = session.fn()->C_DeriveKey(session.handle(), &mech, private_key, tmpl.data(), tmpl.size(), &derived);
  if (rv != CKR_OK) return ckError(rv, "C_DeriveKey ECDH");
  return derived;
}

Result<bool> ensureKey(const Session& session, const KeyTemplate& t) {
  MPAY_ASSIGN_OR_RETURN(bool present, session.exists(keyClass(t), t.label));
  if (present) return false;
  if (t.kind == KeyKind::kEcP256) {
    MPAY_ASSIGN_OR_RETURN(KeyPairHandles ignored, generateKeyPair(session, t));
    (void)ignored;
  } else {
    MPAY_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE ignored, generateSecretKey(session, t));
    (void)ignored;
  }
  return true;
}

}  // namespace mpay::hsm
