// What the phone keeps in its state directory (mode 0700):
//   device.json     phone, IMEI, SIM serial (not secret), activation flag
//   platform.json   suite, service public key, CA and receipt certificates
//   certificate.p12 the certificate file (S08), encrypted under info3
//   session.json    (0600) session id, message key, PIN protection key,
//                   expiry and payment counter — the keys S39 caches
// The password and PIN are never stored: they are asked for each time.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "ca/certificate.h"
#include "suite/messages.h"

namespace mpay::client {

struct DeviceIdentity {
  std::string phone, imei, sim;
  bool activated = false;
};

struct PlatformData {
  std::string suite;
  Bytes service_point, ca_cert, receipt_cert;
  // Every published receipt certificate (receipt_cert first); a receipt is
  // accepted when one of them, chained to ca_cert and unexpired, verifies it.
  std::vector<Bytes> receipt_certs;
  // The service key's generation, and the CA's signature over it (empty for
  // generation 1): a phone follows a changed key only when the CA vouches
  // for it and its generation is newer.
  std::uint64_t service_generation = 1;
  Bytes service_endorsement;
  // ca_cert's generation as the platform says it (shown, never relied on),
  // and the cross certificates of the CA rotations as published (newest
  // first): CA g's key certified by CA g-1.
  std::uint64_t ca_generation = 1;
  std::vector<Bytes> ca_cross;
  // The CAs this phone trusts, oldest first: the one presented when it
  // registered, then each newer one it followed through cross certificates
  // from ca_cert (checkPlatformChange). The last is ca_cert.
  std::vector<Bytes> trusted_cas;
};

// What the phone checks certificates against: the CAs it trusts, and the
// published links between CA generations.
ca::CaTrust trustOf(const PlatformData& p);

struct CachedSession {
  suite::LoginKeys keys;
  std::uint64_t expires_at = 0;
  std::uint64_t counter = 0;
};

class DeviceState {
 public:
  explicit DeviceState(std::string dir) : dir_(std::move(dir)) {}
  Status init();  // creates the directory with mode 0700

  Result<DeviceIdentity> identity() const;
  Status saveIdentity(const DeviceIdentity& id) const;
  Result<PlatformData> platform() const;
  Status savePlatform(const PlatformData& p) const;
  Result<Bytes> certificateFile() const;
  Status saveCertificateFile(ByteView p12) const;
  Result<CachedSession> session() const;
  Status saveSession(const CachedSession& s) const;

 private:
  std::string path(const char* name) const { return dir_ + "/" + name; }
  std::string dir_;
};

}  // namespace mpay::client
