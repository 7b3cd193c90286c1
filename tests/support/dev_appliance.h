// A development appliance in a fresh temp dir: its own SoftHSM2 token, keys
// from the key ceremony and config. One per test, removed afterwards.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/signer_protocol.h"
#include "hsm/token.h"
#include "signer/signer_state.h"
#include "suite/ec.h"

namespace mpay::test {

std::string sourceDir();

// A text file as lines (without their newlines), and back.
std::vector<std::string> readLines(const std::string& path);
void writeLines(const std::string& path, const std::vector<std::string>& lines);
std::string binDir();
std::string vectorsDir();  // tests/vectors: third-party test vectors kept in the repository

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DevAppliance {
 public:
  // Runs dev-setup; extra INI lines (e.g. "signer.pkcs12_iterations = 10000")
  // are merged into their sections; a line "-[section]" drops that section.
  explicit DevAppliance(const std::string& extra_signer_settings = "signer.pkcs12_iterations = 10000",
                        int port = 18443);
  const Config& config() const { return config_; }
  const std::string& configPath() const { return config_path_; }
  const std::string& dir() const { return dir_.path(); }
  // A Token as a signer worker opens it (module loaded in this process).
  std::unique_ptr<hsm::Token> openToken(int lanes = 2) const;
  // The signer's state as the signer opens it (policy/signer.limits, signer.state_file).
  std::unique_ptr<signer::SignerState> openState() const;
  // The acquirer's key as the signer pins it (signer.acquirer_certificate).
  std::shared_ptr<const suite::EcPublicKey> acquirerKey() const;
  // Signs the request's values as the development acquirer does (sets acquirer_signature).
  void signAsAcquirer(wire::SignReceiptRequest& request) const;

 private:
  TempDir dir_;
  std::string config_path_;
  Config config_;
};

}  // namespace mpay::test
