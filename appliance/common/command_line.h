// How every mpay binary treats its command line, so that an operator meets
// one convention: --help (or -h) prints the usage on stdout and exits 0; a
// wrong option or a missing argument prints why, then the usage, on stderr
// and exits 2. The usage texts are the synopses of the man pages (docs/man).
#pragma once
#include <Poco/Util/Application.h>

#include <string_view>

namespace mpay {

inline constexpr int kExitUsage = 2;

// True when argv holds --help or -h: the usage has been printed on stdout.
bool printHelpIfAsked(int argc, char** argv, std::string_view usage);

// "<tool>: why", then the usage, on stderr; returns kExitUsage.
int usageError(std::string_view tool, std::string_view why, std::string_view usage);

// --help, then Poco's option parsing (an error is a usage error), then the
// application's main().
int runCommandLine(Poco::Util::Application& app, int argc, char** argv, std::string_view tool,
                   std::string_view usage);

}  // namespace mpay
