#include "hsm/module.h"

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace mpay::hsm {
namespace {

constexpr std::string_view kP11KitPrefix = "p11-kit:";

struct UriFree {
  void operator()(P11KitUri* u) const { p11_kit_uri_free(u); }
};

Result<std::string> pathOfRegisteredModule(const std::string& name) {
  CK_FUNCTION_LIST** modules = p11_kit_modules_load(nullptr, P11_KIT_MODULE_UNMANAGED);
  if (!modules) return fail(ErrorCode::kConfig, "p11-kit: cannot list registered modules");
  std::string path;
  if (CK_FUNCTION_LIST* m = p11_kit_module_for_name(modules, name.c_str())) {
    if (char* file = p11_kit_module_get_filename(m)) {
      path = file;
      free(file);
    }
  }
  p11_kit_modules_release(modules);
  if (path.empty()) return fail(ErrorCode::kConfig, "p11-kit: no registered module named " + name);
  return path;
}

// The slots that have a token present.
Result<std::vector<CK_SLOT_ID>> slotsWithTokens(CK_FUNCTION_LIST* fn) {
  CK_ULONG count = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return ckError(rv, "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) return ckError(rv, "C_GetSlotList");
  slots.resize(count);
  return slots;
}

}  // namespace

Result<std::unique_ptr<Module>> Module::load(const std::string& spec) {
  std::string path = spec;
  if (spec.starts_with(kP11KitPrefix)) {
    MPAY_ASSIGN_OR_RETURN(path, pathOfRegisteredModule(spec.substr(kP11KitPrefix.size())));
  }
  // UNMANAGED: we call C_Initialize ourselves, with CKF_OS_LOCKING_OK.
  CK_FUNCTION_LIST* fn = p11_kit_module_load(path.c_str(), P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
  if (!fn) {
    const char* msg = p11_kit_message();
    return fail(ErrorCode::kConfig, "cannot load PKCS#11 module " + path + ": " + (msg ? msg : "unknown"));
  }
  std::unique_ptr<Module> module(new Module(fn, path));
  MPAY_RETURN_IF_ERROR(module->initialize());
  return module;
}

Module::~Module() {
  fn_->C_Finalize(nullptr);
  p11_kit_module_release(fn_);
}

Status Module::initialize() {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn_->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return ckError(rv, "C_Initialize");
  return {};
}

Status Module::reinitialize() {
  fn_->C_Finalize(nullptr);
  return initialize();
}

Result<CK_SLOT_ID> Module::findSlot(const std::string& uri_text) const {
  std::unique_ptr<P11KitUri, UriFree> uri(p11_kit_uri_new());
  if (p11_kit_uri_parse(uri_text.c_str(), P11_KIT_URI_FOR_TOKEN, uri.get()) != P11_KIT_URI_OK)
    return fail(ErrorCode::kConfig, "not a PKCS#11 token URI: " + uri_text);
  MPAY_ASSIGN_OR_RETURN(std::vector<CK_SLOT_ID> slots, slotsWithTokens(fn_));
  std::vector<CK_SLOT_ID> matches;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    if (p11_kit_uri_match_token_info(uri.get(), &info)) matches.push_back(slot);
  }
  if (matches.empty()) {
    Error e = fail(ErrorCode::kHsmUnavailable, "no token matches " + uri_text);
    e.ckr = CKR_TOKEN_NOT_PRESENT;
    return e;
  }
  if (matches.size() > 1) return fail(ErrorCode::kConfig, "more than one token matches " + uri_text);
  return matches.front();
}

Result<CK_SLOT_ID> Module::findUninitializedSlot() const {
  MPAY_ASSIGN_OR_RETURN(std::vector<CK_SLOT_ID> slots, slotsWithTokens(fn_));
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn_->C_GetTokenInfo(slot, &info) == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED)) return slot;
  }
  return fail(ErrorCode::kHsmUnavailable, "no free slot for a new token");
}

Result<Secret> readPinFile(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return fail(ErrorCode::kConfig, "cannot stat PIN file " + path);
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kConfig, "PIN file is not a regular file: " + path);
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return fail(ErrorCode::kConfig, "PIN file must be readable by its owner only (mode 0600 or 0400): " + path);
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line)) return fail(ErrorCode::kConfig, "cannot read PIN file " + path);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  Secret pin = Secret::copyOf(line);
  std::fill(line.begin(), line.end(), '\0');
  if (pin.size() < 4 || pin.size() > 64) return fail(ErrorCode::kConfig, "PIN must be 4..64 characters");
  return pin;
}

}  // namespace mpay::hsm
