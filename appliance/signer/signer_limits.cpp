#include "signer/signer_limits.h"

#include <array>
#include <set>

#include "common/policy_text.h"

namespace mpay::signer {
namespace {

struct Rule {
  std::string_view name;
  std::uint32_t SignerLimits::*field;
  std::uint32_t min, max;
};

// The ranges keep a typo from switching a rule off or mapping gigabytes.
constexpr std::array kRules = {
    Rule{"password_threshold", &SignerLimits::password_threshold, 1, 20},
    Rule{"password_lock_s", &SignerLimits::password_lock_s, 60, 7 * 86400},
    Rule{"password_daily", &SignerLimits::password_daily, 1, 1000},
    Rule{"pin_threshold", &SignerLimits::pin_threshold, 1, 20},
    Rule{"pin_lock_s", &SignerLimits::pin_lock_s, 60, 7 * 86400},
    Rule{"pin_daily", &SignerLimits::pin_daily, 1, 1000},
    Rule{"timestamp_window_s", &SignerLimits::timestamp_window_s, 10, 3600},
    Rule{"users", &SignerLimits::users, 1024, 1u << 24},
    Rule{"phones", &SignerLimits::phones, 1024, 1u << 26},
    Rule{"login_nonces", &SignerLimits::login_nonces, 1024, 1u << 24},
    Rule{"sessions", &SignerLimits::sessions, 1024, 1u << 24},
    Rule{"permits", &SignerLimits::permits, 1024, 1u << 26},
    Rule{"foreign_permits", &SignerLimits::foreign_permits, 1024, 1u << 24},
    Rule{"audit_checkpoint_records", &SignerLimits::audit_checkpoint_records, 1, 1000000},
    Rule{"audit_checkpoint_seconds", &SignerLimits::audit_checkpoint_seconds, 1, 86400},
};

}  // namespace

Result<SignerLimits> SignerLimits::load(const std::string& path) {
  MPAY_ASSIGN_OR_RETURN(std::string text, readPolicyText(path));
  return parse(text, path);
}

Result<SignerLimits> SignerLimits::parse(const std::string& text, const std::string& file) {
  SignerLimits limits;
  std::set<std::string_view> seen;
  for (const auto& line : policyLines(text)) {
    const std::string where = file + ":" + std::to_string(line.number);
    if (line.words.size() != 2) return policyError(where, "expected '<name> <number>'");
    const Rule* rule = nullptr;
    for (const auto& r : kRules)
      if (r.name == line.words[0]) rule = &r;
    if (!rule) return policyError(where, "unknown rule '" + line.words[0] + "'");
    if (!seen.insert(rule->name).second) return policyError(where, "duplicate " + line.words[0]);
    const std::string& number = line.words[1];
    if (number.empty() || number.size() > 9 || number.find_first_not_of("0123456789") != std::string::npos)
      return policyError(where, line.words[0] + " must be a number");
    const auto value = static_cast<std::uint32_t>(std::stoul(number));
    if (value < rule->min || value > rule->max)
      return policyError(where, line.words[0] + " must be between " + std::to_string(rule->min) + " and " +
                                    std::to_string(rule->max));
    limits.*(rule->field) = value;
  }
  for (const auto& r : kRules)
    if (!seen.contains(r.name)) return policyError(file, "missing " + std::string(r.name));
  if (limits.password_daily < limits.password_threshold || limits.pin_daily < limits.pin_threshold)
    return policyError(file, "a daily limit below its threshold would never let the threshold apply");
  return limits;
}

}  // namespace mpay::signer
