// Secrets live in memory the kernel leaves out of core dumps.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/secret.h"

namespace mpay {
namespace {

// The VmFlags of the mapping holding `p`, from /proc/self/smaps.
std::string vmFlagsOf(const void* p) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {  // a mapping's first line
      inside = at >= begin && at < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

TEST(Secret, SmallAndLargeSecretsAreExcludedFromCoreDumps) {
  std::vector<Secret> secrets;
  for (std::size_t size : {0, 1, 32, 64, 65, 200, 1000, 4096, 5000, 70000}) secrets.emplace_back(size);
  for (const auto& s : secrets) {
    const std::string flags = vmFlagsOf(s.exposeSecret().data());
    EXPECT_NE(flags.find(" dd"), std::string::npos) << s.size() << " bytes: " << flags;
  }
}

TEST(Secret, AReleasedSlotIsReusedZeroed) {
  const std::uint8_t* first = nullptr;
  {
    Secret s = Secret::copyOf(std::string_view("correct horse 42"));
    first = s.exposeSecret().data();
  }
  Secret again(16);
  EXPECT_EQ(again.exposeSecret().data(), first) << "the pool hands the slot out again";
  for (auto b : again.exposeSecret()) EXPECT_EQ(b, 0);
}

TEST(Secret, MovesLeaveTheSourceEmpty) {
  Secret a = Secret::copyOf(std::string_view("1357"));
  Secret b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(b.exposeSecretText(), "1357");
}

}  // namespace
}  // namespace mpay
