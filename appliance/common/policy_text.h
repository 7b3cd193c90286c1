// The shape every policy/ file shares: one rule a line, words separated by
// blanks, "#" starts the comment that says why. Blank and comment-only
// lines are skipped; line numbers are kept for error messages.
#pragma once
#include <string>
#include <vector>

#include "common/result.h"

namespace mpay {

struct PolicyLine {
  int number = 0;
  std::vector<std::string> words;
  std::string reason;  // the comment, trimmed
};

std::vector<PolicyLine> policyLines(const std::string& text);
Result<std::string> readPolicyText(const std::string& path);
inline Error policyError(const std::string& where, const std::string& what) {
  return fail(ErrorCode::kPolicy, where + ": " + what);
}

}  // namespace mpay
