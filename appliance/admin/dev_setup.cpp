#include "admin/dev_setup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "admin/key_ceremony.h"
#include "common/config.h"
#include "hsm/module.h"
#include "hsm/session.h"
#include "suite/acquirer_answer.h"
#include "suite/primitives.h"

namespace mpay::admin {
namespace {

namespace fs = std::filesystem;

constexpr char kTokenLabel[] = "mpay";

Status writeFile(const fs::path& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) return fail(ErrorCode::kIo, "cannot write " + path.string());
  }
  if (chmod(path.c_str(), mode) != 0) return fail(ErrorCode::kIo, "cannot chmod " + path.string());
  return {};
}

// A random PIN, written once; later runs keep it (the token already uses it).
Result<std::string> ensurePinFile(const fs::path& path) {
  if (fs::exists(path)) {
    MPAY_ASSIGN_OR_RETURN(Secret pin, hsm::readPinFile(path));
    return std::string(pin.exposeSecretText());
  }
  std::string pin = hexEncode(suite::randomBytes(12));
  MPAY_RETURN_IF_ERROR(writeFile(path, pin + "\n", 0600));
  return pin;
}

std::string iniText(const fs::path& dir, int port, const std::string& module) {
  const std::string d = dir.string();
  const std::string uid = std::to_string(getuid());
  return "; mpay development configuration, written by `mpay-admin dev-setup`.\n"
         "; Every path lies inside " + d + ".\n"
         "[paths]\n"
         "public_dir = " + d + "/public\n"
         "policy_dir = " + d + "/policy\n"
         "\n[hsm]\n"
         "module = " + module + "\n"
         "token_uri = pkcs11:token=" + kTokenLabel + "\n"
         "pin_file = " + d + "/user.pin\n"
         "softhsm2_conf = " + d + "/softhsm2.conf\n"
         "token_dir = " + d + "/token\n"
         "\n[signer]\n"
         "socket = " + d + "/run/signer.sock\n"
         "workers = 0\n"
         "threads = 4\n"
         "audit_log = " + d + "/audit/audit.log\n"
         "; The acquirer's certificate: the signer signs no receipt its key did not sign the answer of.\n"
         "acquirer_certificate = " + d + "/public/acquirer.pem\n"
         "; Started as root, mpayd runs the signer as this user (scripts/create-users).\n"
         "user = mpay-signer\n"
         "admin_uid = " + uid + "\n"
         "\n[gateway]\n"
         "user = mpay-gw\n"
         "listen = 127.0.0.1\n"
         "port = " + std::to_string(port) + "\n"
         "db_url = " + d + "/data/mpay.db\n"
         "outbox = " + d + "/data/outbox.jsonl\n"
         "acquirer_url = http://127.0.0.1:" + std::to_string(port + 1) + "\n"
         "; Prometheus scrape endpoint (GET /metrics), loopback only.\n"
         "metrics_port = " + std::to_string(port + 2) + "\n"
         "; The operator's console (GET /console on the metrics port): HTTP Basic, any user, this token.\n"
         "console_token_file = " + d + "/console.token\n"
         "; HTTPS instead of plain loopback HTTP: uncomment (clients then trust public/ca.pem).\n"
         ";tls_cert = " + d + "/tls/gateway.pem\n"
         ";tls_key = " + d + "/tls/gateway.key\n"
         "\n; The development acquirer: mpayd starts it because this section exists.\n"
         "[acquirer_sim]\n"
         "port = " + std::to_string(port + 1) + "\n"
         "ledger = " + d + "/data/acquirer-ledger.jsonl\n"
         "signing_key = " + d + "/data/acquirer-sim.key\n";
}

Status initTokenIfMissing(const Config& config, const std::string& so_pin, const std::string& user_pin) {
  setenv("SOFTHSM2_CONF", config.hsm.softhsm2_conf.c_str(), 1);
  MPAY_ASSIGN_OR_RETURN(auto module, hsm::Module::load(config.hsm.module));
  if (module->findSlot(config.hsm.token_uri).ok()) return {};
  MPAY_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->findUninitializedSlot());
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, kTokenLabel, std::strlen(kTokenLabel));
  auto* so = reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(so_pin.data()));
  CK_RV rv = module->fn()->C_InitToken(slot, so, so_pin.size(), label);
  if (rv != CKR_OK) return hsm::ckError(rv, "C_InitToken");
  // SoftHSM2 renumbers slots after C_InitToken: look the token up afresh.
  MPAY_RETURN_IF_ERROR(module->reinitialize());
  MPAY_ASSIGN_OR_RETURN(slot, module->findSlot(config.hsm.token_uri));
  MPAY_ASSIGN_OR_RETURN(hsm::Session s, hsm::Session::open(module->fn(), slot));
  rv = module->fn()->C_Login(s.handle(), CKU_SO, so, so_pin.size());
  if (rv != CKR_OK) return hsm::ckError(rv, "C_Login SO");
  rv = module->fn()->C_InitPIN(s.handle(), reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(user_pin.data())),
                               user_pin.size());
  module->fn()->C_Logout(s.handle());
  if (rv != CKR_OK) return hsm::ckError(rv, "C_InitPIN");
  return {};
}

}  // namespace

Result<std::string> devSetup(const DevSetupOptions& options) {
  std::error_code ec;
  const fs::path dir = fs::absolute(options.dir, ec);
  if (ec || options.dir.empty()) return fail(ErrorCode::kConfig, "bad --dir");
  for (const char* sub : {"", "token", "public", "run", "audit", "data", "policy", "tls"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create " + (dir / sub).string());
  }
  // Started as root, the services run as their own users (mpayd hands each
  // its files): they must be able to pass through the top directory.
  const bool separated_users = geteuid() == 0;
  chmod(dir.c_str(), separated_users ? 0755 : 0700);
  chmod((dir / "token").c_str(), 0700);

  const fs::path policy_source = options.policy_source.empty() ? fs::path(MPAY_SOURCE_POLICY_DIR)
                                                               : fs::path(options.policy_source);
  for (const auto& entry : fs::directory_iterator(policy_source, ec)) {
    if (!entry.is_regular_file()) continue;
    const fs::path copy = dir / "policy" / entry.path().filename();
    fs::copy_file(entry.path(), copy, fs::copy_options::overwrite_existing, ec);
    if (ec || chmod(copy.c_str(), 0644) != 0) return fail(ErrorCode::kIo, "cannot copy " + entry.path().string());
  }
  if (ec) return fail(ErrorCode::kIo, "cannot read policy directory " + policy_source.string());

  MPAY_RETURN_IF_ERROR(writeFile(dir / "softhsm2.conf",
                                 "directories.tokendir = " + (dir / "token").string() +
                                     "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                                 0600));
  MPAY_ASSIGN_OR_RETURN(std::string so_pin, ensurePinFile(dir / "so.pin"));
  MPAY_ASSIGN_OR_RETURN(std::string user_pin, ensurePinFile(dir / "user.pin"));
  if (!fs::exists(dir / "console.token"))
    MPAY_RETURN_IF_ERROR(writeFile(dir / "console.token", hexEncode(suite::randomBytes(32)) + "\n", 0600));
  const fs::path ini = dir / "mpay.ini";
  // No secret lives in the configuration (PINs, keys and passwords are in files of their own).
  MPAY_RETURN_IF_ERROR(writeFile(ini, iniText(dir, options.port, options.module), separated_users ? 0644 : 0600));
  MPAY_ASSIGN_OR_RETURN(Config config, Config::load(ini.string()));
  MPAY_RETURN_IF_ERROR(initTokenIfMissing(config, so_pin, user_pin));
  std::fill(so_pin.begin(), so_pin.end(), '\0');
  std::fill(user_pin.begin(), user_pin.end(), '\0');
  MPAY_ASSIGN_OR_RETURN(CeremonyReport report, runKeyCeremony(config));
  (void)report;
  // The development acquirer's key and the certificate the signer pins.
  MPAY_RETURN_IF_ERROR(suite::makeAcquirerIdentity(config.acquirer_sim.signing_key, config.signer.acquirer_certificate));
  if (!fs::exists(dir / "tls" / "gateway.pem"))
    MPAY_RETURN_IF_ERROR(issueGatewayTlsCertificate(config, (dir / "tls" / "gateway.key").string(),
                                                    (dir / "tls" / "gateway.pem").string(),
                                                    "DNS:localhost,IP:127.0.0.1"));
  return ini.string();
}

}  // namespace mpay::admin
