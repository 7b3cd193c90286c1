// Every binary's command line, as an operator meets it: --help prints the
// usage on stdout and exits 0; a wrong option prints why and the usage on
// stderr and exits 2; and the man page in docs/man names every option the
// usage names.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/dev_appliance.h"

namespace mpay {
namespace {

struct Outcome {
  int status = -1;
  std::string out, err;
};

Outcome run(const std::string& binary, const std::string& args) {
  test::TempDir dir;
  const std::string err_file = dir.path() + "/stderr";
  const std::string cmd = test::binDir() + "/" + binary + " " + args + " 2>" + err_file + " </dev/null";
  Outcome r;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  r.err = err.str();
  return r;
}

std::string manPage(const std::string& name) {
  std::ifstream in(test::sourceDir() + "/docs/man/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Binary {
  const char* name;
  const char* page;
};
constexpr Binary kBinaries[] = {
    {"mpay-signer", "mpay-signer.8"},       {"mpay-gateway", "mpay-gateway.8"},
    {"mpay-admin", "mpay-admin.8"},         {"mpayd", "mpayd.8"},
    {"mpay-client", "mpay-client.1"},       {"mpay-acquirer-sim", "mpay-acquirer-sim.1"},
    {"mpay-bench", "mpay-bench.1"},
};

TEST(CommandLine, HelpIsTheUsageOnStdoutAndExitsZero) {
  for (const auto& b : kBinaries) {
    for (const char* flag : {"--help", "-h"}) {
      Outcome r = run(b.name, flag);
      EXPECT_EQ(r.status, 0) << b.name << " " << flag << "\n" << r.err;
      EXPECT_EQ(r.out.rfind(std::string("usage: ") + b.name + " ", 0), 0u) << b.name << "\n" << r.out;
      EXPECT_EQ(r.err, "") << b.name;
    }
  }
}

TEST(CommandLine, AWrongOptionIsTheUsageOnStderrAndExitsTwo) {
  for (const auto& b : kBinaries) {
    Outcome r = run(b.name, "--no-such-option");
    EXPECT_EQ(r.status, 2) << b.name << "\n" << r.err;
    EXPECT_EQ(r.out, "") << b.name;
    EXPECT_EQ(r.err.rfind(std::string(b.name) + ": ", 0), 0u) << b.name << "\n" << r.err;
    EXPECT_NE(r.err.find(std::string("usage: ") + b.name + " "), std::string::npos) << b.name << "\n" << r.err;
  }
  // A missing required option is a usage error too.
  for (const char* daemon : {"mpay-signer", "mpay-gateway", "mpayd"}) EXPECT_EQ(run(daemon, "").status, 2) << daemon;
  EXPECT_EQ(run("mpay-acquirer-sim", "--port 1").status, 2);
  EXPECT_EQ(run("mpay-client", "status").status, 2);
  // A value out of range is refused, not cut to fit (70000 would have been port 4464).
  EXPECT_EQ(run("mpay-acquirer-sim", "--port 70000 --signing-key /nonexistent").status, 2);
  // A threshold that could never be missed is refused.
  EXPECT_EQ(run("mpay-bench", "--server http://127.0.0.1:1 --outbox /nonexistent --min-floor-ratio 0.5").status, 2);
  EXPECT_EQ(run("mpay-bench", "--server http://127.0.0.1:1 --outbox /nonexistent --floor --min-signer-ratio 0.5").status, 2);
}

TEST(CommandLine, AnOptionsValueThatLooksLikeHelpIsAValue) {
  Outcome r = run("mpay-admin", "status --config -h");
  EXPECT_EQ(r.status, 1) << "-h is the configuration file's name here\n" << r.out << r.err;
  EXPECT_EQ(r.out.find("usage:"), std::string::npos);
  EXPECT_NE(r.err.find("-h"), std::string::npos) << r.err;
  EXPECT_EQ(run("mpayd", "--config --help").status, 78) << "--help is the file mpayd cannot read";
  EXPECT_EQ(run("mpay-signer", "--config /nonexistent --help").status, 0) << "--help anywhere else is help";
}

TEST(CommandLine, EachManPageNamesEveryOptionItsUsageNames) {
  const std::regex option("--([a-z0-9][a-z0-9-]*)");
  for (const auto& b : kBinaries) {
    const std::string page = manPage(b.page);
    ASSERT_FALSE(page.empty()) << "no docs/man/" << b.page;
    EXPECT_NE(page.find(".SH NAME\n" + std::string(b.name) + " \\-"), std::string::npos) << b.page;
    const std::string usage = run(b.name, "--help").out;
    std::set<std::string> options;
    for (std::sregex_iterator it(usage.begin(), usage.end(), option), end; it != end; ++it) options.insert((*it)[1]);
    EXPECT_FALSE(options.empty()) << b.name;
    for (const auto& o : options) {
      std::string escaped;
      for (char c : o) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(page.find("\\-\\-" + escaped), std::string::npos) << b.page << " does not name --" << o;
    }
  }
}

}  // namespace
}  // namespace mpay
