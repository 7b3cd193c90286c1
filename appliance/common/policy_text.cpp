#include "common/policy_text.h"

#include <fstream>
#include <sstream>

namespace mpay {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::vector<PolicyLine> policyLines(const std::string& text) {
  std::vector<PolicyLine> out;
  std::istringstream in(text);
  std::string raw;
  for (int n = 1; std::getline(in, raw); ++n) {
    std::string reason;
    if (auto hash = raw.find('#'); hash != std::string::npos) {
      reason = raw.substr(hash + 1);
      raw.erase(hash);
    }
    std::istringstream words(raw);
    PolicyLine line{n, {}, trim(reason)};
    for (std::string w; words >> w;) line.words.push_back(w);
    if (!line.words.empty()) out.push_back(std::move(line));
  }
  return out;
}

Result<std::string> readPolicyText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kPolicy, "cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace mpay
