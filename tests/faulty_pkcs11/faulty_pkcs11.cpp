// A PKCS#11 module for tests: it forwards every call to SoftHSM2 and, on
// command, fails the calls that do the token's work the way a failing HSM
// does. The command is a file the test writes, `mpay-pkcs11-fault` in
// SoftHSM2's token directory (found through SOFTHSM2_CONF; the signer's
// sandbox lets it read and write there, and SoftHSM2 only looks at
// subdirectories), holding one line "<fault> <count>":
//   session_handle_invalid | device_error | token_not_present | hang
//   count: how many calls fail (the file is rewritten as they do); -1: until
//   the file is removed. A hang waits while the file says "hang".
// Calls that set the module up (C_Initialize, C_Finalize, slot and token
// lists) pass through, so that the signer's recovery can run.
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <sys/file.h>
#include <unistd.h>

#include <dlfcn.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

namespace {

CK_FUNCTION_LIST* g_real = nullptr;
CK_FUNCTION_LIST g_faulty;

std::string controlPath() {
  static const std::string path = [] {
    const char* conf = std::getenv("SOFTHSM2_CONF");
    std::ifstream in(conf ? conf : "/etc/softhsm/softhsm2.conf");
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq == std::string::npos || line.find("directories.tokendir") == std::string::npos) continue;
      std::string dir = line.substr(eq + 1);
      dir.erase(0, dir.find_first_not_of(" \t"));
      dir.erase(dir.find_last_not_of(" \t") + 1);
      return dir + "/mpay-pkcs11-fault";
    }
    return std::string();
  }();
  return path;
}

enum class Fault { kNone, kSessionHandleInvalid, kDeviceError, kTokenNotPresent, kHang };

// Reads the command and spends one of its calls, under the file's lock.
Fault takeFault() {
  const std::string path = controlPath();
  if (path.empty()) return Fault::kNone;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Fault::kNone;
  ::flock(fd, LOCK_EX);
  char buf[128] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::istringstream line(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
  std::string name;
  long count = -1;
  line >> name >> count;
  Fault f = name == "session_handle_invalid" ? Fault::kSessionHandleInvalid
            : name == "device_error"         ? Fault::kDeviceError
            : name == "token_not_present"    ? Fault::kTokenNotPresent
            : name == "hang"                 ? Fault::kHang
                                             : Fault::kNone;
  if (count == 0) f = Fault::kNone;
  if (f != Fault::kNone && count > 0) {
    const std::string left = name + " " + std::to_string(count - 1) + "\n";
    if (::ftruncate(fd, 0) == 0 && ::lseek(fd, 0, SEEK_SET) == 0) (void)!::write(fd, left.data(), left.size());
  }
  ::close(fd);  // releases the lock
  return f;
}

bool stillHanging() {
  int fd = ::open(controlPath().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8] = {};
  ssize_t n = ::read(fd, buf, 4);
  ::close(fd);
  return n == 4 && std::memcmp(buf, "hang", 4) == 0;
}

// The result a faulted call returns instead of doing its work.
CK_RV injected() {
  switch (takeFault()) {
    case Fault::kNone: return CKR_OK;
    case Fault::kSessionHandleInvalid: return CKR_SESSION_HANDLE_INVALID;
    case Fault::kDeviceError: return CKR_DEVICE_ERROR;
    case Fault::kTokenNotPresent: return CKR_TOKEN_NOT_PRESENT;
    case Fault::kHang: {
      // The signer's sandbox has no nanosleep: wait on a condition variable (futex).
      static std::mutex m;
      static std::condition_variable cv;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      while (stillHanging() && std::chrono::steady_clock::now() < until) {
        std::unique_lock lock(m);
        cv.wait_for(lock, std::chrono::milliseconds(100));
      }
      return CKR_OK;  // then the call runs, late
    }
  }
  return CKR_OK;
}

#define MPAY_FAULTY(name, params, args)          \
  CK_RV faulty_##name params {                    \
    if (CK_RV rv = injected(); rv != CKR_OK) return rv; \
    return g_real->name args;                     \
  }

MPAY_FAULTY(C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, void* c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e), (a, b, c, d, e))
MPAY_FAULTY(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d))
MPAY_FAULTY(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))
MPAY_FAULTY(C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), (a, b, c, d))
MPAY_FAULTY(C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
MPAY_FAULTY(C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), (a, b, c, d, e))
MPAY_FAULTY(C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
MPAY_FAULTY(C_Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), (a, b, c, d, e))
MPAY_FAULTY(C_DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))
MPAY_FAULTY(C_Decrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), (a, b, c, d, e))
MPAY_FAULTY(C_DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d, CK_ULONG e,
                          CK_OBJECT_HANDLE_PTR f),
            (a, b, c, d, e, f))
MPAY_FAULTY(C_GenerateKeyPair, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                                CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h),
            (a, b, c, d, e, f, g, h))
MPAY_FAULTY(C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d, CK_BYTE_PTR e,
                        CK_ULONG_PTR f),
            (a, b, c, d, e, f))
MPAY_FAULTY(C_CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                           CK_OBJECT_HANDLE_PTR e),
            (a, b, c, d, e))
MPAY_FAULTY(C_GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (!list) return CKR_ARGUMENTS_BAD;
  if (!g_real) {
    void* softhsm = ::dlopen(MPAY_SOFTHSM2_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!softhsm) return CKR_GENERAL_ERROR;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(softhsm, "C_GetFunctionList"));
    if (!get || get(&g_real) != CKR_OK) return CKR_GENERAL_ERROR;
    g_faulty = *g_real;
    g_faulty.C_OpenSession = faulty_C_OpenSession;
    g_faulty.C_Login = faulty_C_Login;
    g_faulty.C_FindObjectsInit = faulty_C_FindObjectsInit;
    g_faulty.C_GetAttributeValue = faulty_C_GetAttributeValue;
    g_faulty.C_SignInit = faulty_C_SignInit;
    g_faulty.C_Sign = faulty_C_Sign;
    g_faulty.C_EncryptInit = faulty_C_EncryptInit;
    g_faulty.C_Encrypt = faulty_C_Encrypt;
    g_faulty.C_DecryptInit = faulty_C_DecryptInit;
    g_faulty.C_Decrypt = faulty_C_Decrypt;
    g_faulty.C_DeriveKey = faulty_C_DeriveKey;
    g_faulty.C_GenerateKeyPair = faulty_C_GenerateKeyPair;
    g_faulty.C_WrapKey = faulty_C_WrapKey;
    g_faulty.C_CopyObject = faulty_C_CopyObject;
    g_faulty.C_GenerateRandom = faulty_C_GenerateRandom;
  }
  *list = &g_faulty;
  return CKR_OK;
}
