#include "common/option_map_app.h"

#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include "common/command_line.h"

namespace mpay {

OptionMapApp::OptionMapApp(std::initializer_list<const char*> value_options,
                           std::initializer_list<const char*> flag_options)
    : value_options_(value_options.begin(), value_options.end()),
      flag_options_(flag_options.begin(), flag_options.end()) {
  setUnixOptions(true);
}

void OptionMapApp::defineOptions(Poco::Util::OptionSet& options) {
  auto take = Poco::Util::OptionCallback<OptionMapApp>(this, &OptionMapApp::takeOption);
  options.addOption(helpOption());
  for (const auto& name : value_options_)
    options.addOption(Poco::Util::Option(name, "", name).argument("VALUE").repeatable(false).callback(take));
  for (const auto& name : flag_options_)
    options.addOption(Poco::Util::Option(name, "", name).repeatable(false).callback(take));
}

void OptionMapApp::takeOption(const std::string& name, const std::string& value) { options_[name] = value; }

}  // namespace mpay
