// docs/protocol.md carries tables generated from the code; they must match.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
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

std::string readSource(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every test the test sources define, as "Suite.Name".
std::set<std::string> definedTests() {
  std::set<std::string> tests;
  const std::regex definition(R"(TEST(?:_F|_P)?\(\s*(\w+)\s*,\s*(\w+)\s*\))");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::sourceDir() + "/tests")) {
    if (entry.path().extension() != ".cpp") continue;
    const std::string text = readSource(entry.path().string());
    for (std::sregex_iterator it(text.begin(), text.end(), definition), end; it != end; ++it)
      tests.insert((*it)[1].str() + "." + (*it)[2].str());
  }
  return tests;
}

// docs/policy-review.md lists each claim with the tests that prove it: a
// renamed or deleted test must not leave a claim unproven.
TEST(DocsSync, EveryClaimNamesATestThatExists) {
  const std::string claims = section(readSource(test::sourceDir() + "/docs/policy-review.md"), "claims");
  const std::set<std::string> tests = definedTests();
  ASSERT_GT(tests.size(), 100u);
  const std::regex named(R"(`([A-Z]\w+)\.([A-Z]\w+)`)");
  std::istringstream rows(claims);
  std::string row;
  int claimed = 0;
  while (std::getline(rows, row)) {
    if (row.rfind("| ", 0) != 0 || row.rfind("| claim", 0) == 0) continue;
    int named_here = 0;
    for (std::sregex_iterator it(row.begin(), row.end(), named), end; it != end; ++it, ++named_here) {
      const std::string name = (*it)[1].str() + "." + (*it)[2].str();
      EXPECT_TRUE(tests.contains(name)) << name << " (docs/policy-review.md) is not a test in tests/";
    }
    EXPECT_GT(named_here, 0) << "a claim without a test: " << row;
    ++claimed;
  }
  EXPECT_GT(claimed, 20);
}

// docs/operations.md's configuration table names every key the loader takes.
TEST(DocsSync, EveryConfigurationKeyIsDocumented) {
  std::ifstream in(test::sourceDir() + "/docs/operations.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& key : configKeys())
    EXPECT_NE(doc.str().find("`" + key + "`"), std::string::npos) << key << " is missing from docs/operations.md";
}

TEST(DocsSync, EveryConfigurationKeyIsInTheManPage) {
  const std::string page = readSource(test::sourceDir() + "/docs/man/mpay.ini.5");
  for (const auto& key : configKeys())
    EXPECT_NE(page.find("\\fB" + key + "\\fR"), std::string::npos) << key << " is missing from docs/man/mpay.ini.5";
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
