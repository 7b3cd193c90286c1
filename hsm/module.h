// A PKCS#11 module loaded through p11-kit, initialized with OS locking (so a
// threaded signer is safe with SoftHSM2), and the token slot chosen by an
// RFC 7512 URI. Load it only after fork(): SoftHSM2 does not survive one.
#pragma once
#include <memory>
#include <string>

#include "common/secret.h"
#include "hsm/pkcs11.h"

namespace mpay::hsm {

class Module {
 public:
  // `spec` is a module path, or "p11-kit:NAME" for a module registered with p11-kit.
  static Result<std::unique_ptr<Module>> load(const std::string& spec);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }
  // C_Finalize then C_Initialize: the recovery step after a device error.
  Status reinitialize();
  // The slot whose token matches `uri` (pkcs11:token=...); exactly one must.
  Result<CK_SLOT_ID> findSlot(const std::string& uri) const;
  // A slot with no token initialized yet (SoftHSM2 always offers one).
  Result<CK_SLOT_ID> findUninitializedSlot() const;

 private:
  Module(CK_FUNCTION_LIST* fn, std::string path) : fn_(fn), path_(std::move(path)) {}
  Status initialize();
  CK_FUNCTION_LIST* fn_;
  std::string path_;
};

// Reads a PIN from a file the signer alone may read: one line, the trailing
// newline dropped. Refuses a file that group or others can read.
Result<Secret> readPinFile(const std::string& path);

}  // namespace mpay::hsm
