// RAII for PKCS#11 sessions and session objects, and attribute helpers.
#pragma once
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/secret.h"
#include "hsm/pkcs11.h"

namespace mpay::hsm {

class Session {
 public:
  static Result<Session> open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot);
  Session() = default;
  ~Session();
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  CK_SESSION_HANDLE handle() const { return handle_; }
  bool valid() const { return fn_ != nullptr; }
  // Drop the handle without C_CloseSession (it died with a module reset).
  void forget() {
    fn_ = nullptr;
    handle_ = CK_INVALID_HANDLE;
  }
  // C_Login as user; "already logged in" (another session did it) is success.
  Status loginUser(const Secret& pin);

  // The one token object of `cls` with `label`; error if none or several.
  Result<CK_OBJECT_HANDLE> findOne(CK_OBJECT_CLASS cls, const std::string& label) const;
  // True if a token object of `cls` with `label` exists (several is an error).
  Result<bool> exists(CK_OBJECT_CLASS cls, const std::string& label) const;
  Result<Bytes> attributeBytes(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<bool> attributeBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<CK_ULONG> attributeUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const;
  Result<std::vector<CK_MECHANISM_TYPE>> allowedMechanisms(CK_OBJECT_HANDLE object) const;
  // Destroys every token object of `cls` labelled `label`; returns how many.
  Result<int> destroyAll(CK_OBJECT_CLASS cls, const std::string& label) const;
  // Session copy of a token key (stays sensitive and non-extractable).
  Result<CK_OBJECT_HANDLE> copyToSession(CK_OBJECT_HANDLE object) const;

 private:
  Result<std::vector<CK_OBJECT_HANDLE>> findByLabel(CK_OBJECT_CLASS cls, const std::string& label) const;
  Session(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) : fn_(fn), handle_(h) {}
  void close();
  CK_FUNCTION_LIST* fn_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

// Destroys a session object when it goes out of scope (derived secrets,
// one-time wrapping keys, per-registration user keys).
class ObjectGuard {
 public:
  ObjectGuard(const Session& session, CK_OBJECT_HANDLE object) : session_(&session), object_(object) {}
  ~ObjectGuard() { destroy(); }
  ObjectGuard(const ObjectGuard&) = delete;
  ObjectGuard& operator=(const ObjectGuard&) = delete;
  CK_OBJECT_HANDLE get() const { return object_; }
  CK_RV destroy();

 private:
  const Session* session_;
  CK_OBJECT_HANDLE object_;
};

// The DER of the P-256 OID, the value of CKA_EC_PARAMS.
const Bytes& p256EcParams();
// CKA_EC_POINT holds a DER OCTET STRING around the point; unwrap it.
Result<Bytes> ecPointFromAttribute(ByteView attribute);

}  // namespace mpay::hsm
