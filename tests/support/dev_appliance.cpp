#include "support/dev_appliance.h"

#include "suite/acquirer_answer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "admin/dev_setup.h"

namespace mpay::test {

// MPAY_SOURCE_DIR in the environment points the tests at another copy of the
// sources (tests/fresh-copy-test runs them from one with nothing beside it).
std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

void writeLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

std::string sourceDir() {
  const char* other = getenv("MPAY_SOURCE_DIR");
  return other && *other ? other : MPAY_SOURCE_DIR;
}
std::string binDir() { return MPAY_BIN_DIR; }
std::string vectorsDir() { return sourceDir() + "/tests/vectors"; }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mpay-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

DevAppliance::DevAppliance(const std::string& extra_signer_settings, int port) {
  auto ini = admin::devSetup({dir_.path(), port, sourceDir() + "/policy", "/usr/lib/softhsm/libsofthsm2.so"});
  if (!ini) throw std::runtime_error("dev-setup failed: " + ini.error().detail);
  config_path_ = ini.value();
  if (!extra_signer_settings.empty()) {
    // Insert each "section.key = value" line under its [section].
    std::ifstream in(config_path_);
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    std::string settings = extra_signer_settings;
    for (auto at = settings.find("${DIR}"); at != std::string::npos; at = settings.find("${DIR}"))
      settings.replace(at, 6, dir_.path());
    std::istringstream extra(settings);
    std::string line;
    while (std::getline(extra, line)) {
      if (line.size() > 3 && line.rfind("-[", 0) == 0 && line.back() == ']') {  // "-[section]": drop it
        const std::string header = line.substr(1);
        auto at = content.find(header + "\n");
        if (at == std::string::npos) continue;
        auto end = content.find("\n[", at + header.size());
        content.erase(at, end == std::string::npos ? std::string::npos : end + 1 - at);
        continue;
      }
      auto dot = line.find('.');
      if (dot == std::string::npos) continue;
      const std::string header = "[" + line.substr(0, dot) + "]\n";
      const std::string key = line.substr(dot + 1, line.find(' ') - dot - 1);
      auto at = content.find(header);
      if (at == std::string::npos) throw std::runtime_error("no section for " + line);
      auto end = content.find("\n[", at + header.size());
      auto existing = content.find("\n" + key + " = ", at);
      if (existing != std::string::npos && (end == std::string::npos || existing < end))
        content.erase(existing + 1, content.find('\n', existing + 1) - existing);
      content.insert(at + header.size(), line.substr(dot + 1) + "\n");
    }
    std::ofstream out(config_path_, std::ios::trunc);
    out << content;
  }
  auto config = Config::load(config_path_);
  if (!config) throw std::runtime_error("config: " + config.error().detail);
  config_ = config.value();
}

std::unique_ptr<hsm::Token> DevAppliance::openToken(int lanes) const {
  auto policy = hsm::KeyPolicy::load(config_.policy_dir + "/keys");
  if (!policy) throw std::runtime_error(policy.error().detail);
  auto token = hsm::Token::open(config_.hsm, policy.value(), lanes);
  if (!token) throw std::runtime_error("token: " + token.error().detail);
  return std::move(token).value();
}

std::unique_ptr<signer::SignerState> DevAppliance::openState() const {
  auto limits = signer::SignerLimits::load(config_.policy_dir + "/signer.limits");
  if (!limits) throw std::runtime_error(limits.error().detail);
  auto state = signer::SignerState::open(config_.signer.state_file, limits.value());
  if (!state) throw std::runtime_error("state: " + state.error().detail);
  return std::move(state).value();
}

std::shared_ptr<const suite::EcPublicKey> DevAppliance::acquirerKey() const {
  auto key = suite::loadAcquirerCertificate(config_.signer.acquirer_certificate);
  if (!key) throw std::runtime_error(key.error().detail);
  return std::make_shared<const suite::EcPublicKey>(std::move(key).value());
}

void DevAppliance::signAsAcquirer(wire::SignReceiptRequest& r) const {
  auto key = suite::loadAcquirerKey(config_.acquirer_sim.signing_key);
  if (!key) throw std::runtime_error(key.error().detail);
  const suite::AcquirerAnswer answer{r.order_no, r.phone, r.amount_minor, r.currency,
                                     static_cast<suite::PaymentResult>(r.result), r.transaction_no, r.time};
  r.acquirer_signature = key->signDer(suite::acquirerAnswerBytes(answer)).value();
}

}  // namespace mpay::test
