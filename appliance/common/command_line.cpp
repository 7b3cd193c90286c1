#include "common/command_line.h"

#include <Poco/Exception.h>
#include <Poco/Util/OptionCallback.h>

#include <iostream>
#include <string>

namespace mpay {
namespace {

// Set by the --help option's callback (one process, one command line).
struct HelpFlag {
  bool asked = false;
  void take(const std::string&, const std::string&) { asked = true; }
};

HelpFlag& helpFlag() {
  static HelpFlag flag;
  return flag;
}

}  // namespace

Poco::Util::Option helpOption() {
  return Poco::Util::Option("help", "h", "print the usage and exit")
      .callback(Poco::Util::OptionCallback<HelpFlag>(&helpFlag(), &HelpFlag::take));
}

bool printHelpIfAsked(int argc, char** argv, std::string_view usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--config") {
      ++i;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return true;
    }
  }
  return false;
}

int usageError(std::string_view tool, std::string_view why, std::string_view usage) {
  std::cerr << tool << ": " << why << "\n" << usage;
  return kExitUsage;
}

int runCommandLine(Poco::Util::Application& app, int argc, char** argv, std::string_view tool,
                   std::string_view usage) {
  try {
    app.init(argc, argv);
  } catch (const Poco::Exception& e) {
    if (!helpFlag().asked) return usageError(tool, e.displayText(), usage);
  }
  if (helpFlag().asked) {
    std::cout << usage;
    return 0;
  }
  return app.run();
}

}  // namespace mpay
