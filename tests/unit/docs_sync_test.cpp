// docs/protocol.md carries tables generated from the code; they must match.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/config.h"
#include "gateway/api_error.h"
#include "signer/operation_docs.h"
#include "support/dev_appliance.h"

namespace mpay {
namespace {

std::string section(const std::string& doc, const std::string& name) {
  const std::string begin = "<!-- BEGIN " + name + " -->\n", end = "<!-- END " + name + " -->";
  auto a = doc.find(begin), b = doc.find(end);
  if (a == std::string::npos || b == std::string::npos) return "(section " + name + " missing)";
  return doc.substr(a + begin.size(), b - a - begin.size());
}

std::string protocolDoc() {
  std::ifstream in(test::sourceDir() + "/docs/protocol.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// docs/operations.md's configuration table names every key the loader takes.
TEST(DocsSync, EveryConfigurationKeyIsDocumented) {
  std::ifstream in(test::sourceDir() + "/docs/operations.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& key : configKeys())
    EXPECT_NE(doc.str().find("`" + key + "`"), std::string::npos) << key << " is missing from docs/operations.md";
}

TEST(DocsSync, SignerOperationTableMatchesTheCode) {
  EXPECT_EQ(section(protocolDoc(), "signer-operations"), signer::renderOperationTable())
      << "regenerate with: build/bin/mpay-admin operations";
}

TEST(DocsSync, ErrorCodesMatchTheCode) {
  EXPECT_EQ(section(protocolDoc(), "error-codes"), signer::renderErrorCodes())
      << "regenerate with: build/bin/mpay-admin operations";
}

TEST(DocsSync, HttpApiErrorsMatchTheCode) {
  EXPECT_EQ(section(protocolDoc(), "api-errors"), gateway::renderApiErrors())
      << "regenerate with: build/bin/mpay-admin operations";
}

}  // namespace
}  // namespace mpay
