// Minimal structured logging to stderr: one line per event, key=value.
// Never pass a secret; Secret has no formatter on purpose.
#pragma once
#include <string_view>

namespace mpay::log {

void setProcessName(std::string_view name);
void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

}  // namespace mpay::log
