#include "hsm/session.h"

#include <sched.h>

#include <openssl/asn1.h>

#include <memory>

namespace mpay::hsm {

Result<Session> Session::open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot) {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
  if (rv != CKR_OK) return ckError(rv, "C_OpenSession");
  return Session(fn, h);
}

Session::~Session() { close(); }

Session::Session(Session&& other) noexcept : fn_(other.fn_), handle_(other.handle_) {
  other.fn_ = nullptr;
  other.handle_ = CK_INVALID_HANDLE;
}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    fn_ = other.fn_;
    handle_ = other.handle_;
    other.fn_ = nullptr;
    other.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

void Session::close() {
  if (fn_) fn_->C_CloseSession(handle_);  // may already be gone after a device error
  fn_ = nullptr;
  handle_ = CK_INVALID_HANDLE;
}

Status Session::loginUser(const Secret& pin) {
  auto bytes = pin.exposeSecret();
  CK_RV rv = fn_->C_Login(handle_, CKU_USER, const_cast<CK_UTF8CHAR*>(bytes.data()), bytes.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
      Error e = fail(ErrorCode::kConfig, std::string("C_Login: ") + std::string(rvName(rv)));
      e.ckr = rv;
      return e;
    }
    return ckError(rv, "C_Login");
  }
  return {};
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::findByLabel(CK_OBJECT_CLASS cls, const std::string& label) const {
  // Token objects only: every lane's session copies of a key carry its label
  // too, and are visible to the other lanes of this process.
  CK_BBOOL on_token = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                         {CKA_TOKEN, &on_token, sizeof on_token}};
  std::vector<CK_OBJECT_HANDLE> found;
  // SoftHSM2 fills a copy's attributes from its source before it applies
  // CKA_TOKEN false: while another lane copies a key, the copy can match for
  // a moment. A duplicate that is really on the token stays; look again.
  for (int look = 0; look < 50; ++look) {
    CK_RV rv = fn_->C_FindObjectsInit(handle_, tmpl, 3);
    if (rv != CKR_OK) return ckError(rv, "C_FindObjectsInit");
    found.assign(2, CK_INVALID_HANDLE);  // two are enough to see a duplicate
    CK_ULONG count = 0;
    rv = fn_->C_FindObjects(handle_, found.data(), found.size(), &count);
    fn_->C_FindObjectsFinal(handle_);
    if (rv != CKR_OK) return ckError(rv, "C_FindObjects");
    found.resize(count);
    if (found.size() < 2) break;
    sched_yield();
  }
  return found;
}

Result<bool> Session::exists(CK_OBJECT_CLASS cls, const std::string& label) const {
  MPAY_ASSIGN_OR_RETURN(auto found, findByLabel(cls, label));
  if (found.size() > 1) return fail(ErrorCode::kInternal, "more than one object labelled " + label);
  return found.size() == 1;
}

Result<CK_OBJECT_HANDLE> Session::findOne(CK_OBJECT_CLASS cls, const std::string& label) const {
  MPAY_ASSIGN_OR_RETURN(auto found, findByLabel(cls, label));
  if (found.size() != 1)
    return fail(ErrorCode::kHsmUnavailable,
                (found.empty() ? "no object labelled " : "more than one object labelled ") + label +
                    " (a token with part of a platform is restored from the HSM backup, never re-initialised:"
                    " see docs/operations.md, \"Key ceremony\")");
  return found.front();
}

Result<int> Session::destroyAll(CK_OBJECT_CLASS cls, const std::string& label) const {
  MPAY_ASSIGN_OR_RETURN(auto found, findByLabel(cls, label));
  for (CK_OBJECT_HANDLE object : found)
    if (CK_RV rv = fn_->C_DestroyObject(handle_, object); rv != CKR_OK) return ckError(rv, "C_DestroyObject");
  return static_cast<int>(found.size());
}

Result<Bytes> Session::attributeBytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_ATTRIBUTE attr = {type, nullptr, 0};
  CK_RV rv = fn_->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return ckError(rv, "C_GetAttributeValue");
  Bytes value(attr.ulValueLen);
  attr.pValue = value.data();
  rv = fn_->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return ckError(rv, "C_GetAttributeValue");
  value.resize(attr.ulValueLen);
  return value;
}

Result<bool> Session::attributeBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE attr = {type, &value, sizeof value};
  CK_RV rv = fn_->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return ckError(rv, "C_GetAttributeValue");
  return value == CK_TRUE;
}

Result<CK_ULONG> Session::attributeUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  CK_ULONG value = 0;
  CK_ATTRIBUTE attr = {type, &value, sizeof value};
  CK_RV rv = fn_->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return ckError(rv, "C_GetAttributeValue");
  return value;
}

Result<std::vector<CK_MECHANISM_TYPE>> Session::allowedMechanisms(CK_OBJECT_HANDLE object) const {
  MPAY_ASSIGN_OR_RETURN(Bytes raw, attributeBytes(object, CKA_ALLOWED_MECHANISMS));
  std::vector<CK_MECHANISM_TYPE> out(raw.size() / sizeof(CK_MECHANISM_TYPE));
  std::copy(raw.begin(), raw.begin() + static_cast<long>(out.size() * sizeof(CK_MECHANISM_TYPE)),
            reinterpret_cast<std::uint8_t*>(out.data()));
  return out;
}

Result<CK_OBJECT_HANDLE> Session::copyToSession(CK_OBJECT_HANDLE object) const {
  // A session object that cannot be changed (the token object may have to
  // be modifiable for SoftHSM2 to copy it: policy/keys).
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_MODIFIABLE, &no, sizeof no}};
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  CK_RV rv = fn_->C_CopyObject(handle_, object, tmpl, 2, &copy);
  if (rv != CKR_OK) return ckError(rv, "C_CopyObject");
  return copy;
}

CK_RV ObjectGuard::destroy() {
  if (object_ == CK_INVALID_HANDLE) return CKR_OK;
  CK_RV rv = session_->fn()->C_DestroyObject(session_->handle(), object_);
  object_ = CK_INVALID_HANDLE;
  return rv;
}

const Bytes& p256EcParams() {
  // DER of OID 1.2.840.10045.3.1.7 (prime256v1).
  static const Bytes kParams = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  return kParams;
}

Result<Bytes> ecPointFromAttribute(ByteView attribute) {
  const unsigned char* p = attribute.data();
  std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> os(
      d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(attribute.size())), ASN1_OCTET_STRING_free);
  if (!os || p != attribute.data() + attribute.size())
    return fail(ErrorCode::kInternal, "CKA_EC_POINT is not a DER OCTET STRING");
  const unsigned char* data = ASN1_STRING_get0_data(os.get());
  return Bytes(data, data + ASN1_STRING_length(os.get()));
}

}  // namespace mpay::hsm
