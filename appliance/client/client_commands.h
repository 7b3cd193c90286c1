// The verbs of mpay-client; each returns the process exit code.
#pragma once
#include <map>
#include <string>

namespace mpay::client {

using Options = std::map<std::string, std::string>;

int registerCommand(const Options& o);
int activateCommand(const Options& o);
int loginCommand(const Options& o);
int payCommand(const Options& o);
int statusCommand(const Options& o);

// "12.34" in a currency with two decimals -> 1234; refuses more decimals than the currency has.
bool parseAmount(const std::string& text, const std::string& currency, std::uint64_t* minor);

}  // namespace mpay::client
