#include "common/command_line.h"

#include <Poco/Exception.h>

#include <iostream>
#include <string>

namespace mpay {

bool printHelpIfAsked(int argc, char** argv, std::string_view usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
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
  if (printHelpIfAsked(argc, argv, usage)) return 0;
  try {
    app.init(argc, argv);
  } catch (const Poco::Exception& e) {
    return usageError(tool, e.displayText(), usage);
  }
  return app.run();
}

}  // namespace mpay
