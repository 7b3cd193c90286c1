// How every mpay binary treats its command line, so that an operator meets
// one convention: --help (or -h) prints the usage on stdout and exits 0; a
// wrong option or a missing argument prints why, then the usage, on stderr
// and exits 2. The usage texts are the synopses of the man pages (docs/man).
#pragma once
#include <Poco/Util/Application.h>
#include <Poco/Util/Option.h>

#include <string_view>

namespace mpay {

inline constexpr int kExitUsage = 2;

// The --help (-h) option: every Poco application defines it in its
// defineOptions(), so that Poco tells it from an option's value ("--password
// -h" is a password); runCommandLine() prints the usage when it was given.
Poco::Util::Option helpOption();

// For a program that parses its own argv (mpayd, whose only option is
// --config FILE): true when an argument other than --config's value is
// --help or -h, before any "--"; the usage has then been printed on stdout.
bool printHelpIfAsked(int argc, char** argv, std::string_view usage);

// "<tool>: why", then the usage, on stderr; returns kExitUsage.
int usageError(std::string_view tool, std::string_view why, std::string_view usage);

// Poco's option parsing (an error is a usage error; --help prints the usage
// and exits 0 — also when a wrong option follows it, as Poco stops at the
// first error), then the application's main().
int runCommandLine(Poco::Util::Application& app, int argc, char** argv, std::string_view tool,
                   std::string_view usage);

}  // namespace mpay
