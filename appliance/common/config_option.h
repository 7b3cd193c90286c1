// The one option every daemon takes: --config FILE. A mixin over a Poco
// application class, so the option is defined and stored in one place.
#pragma once
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <string>

#include "common/command_line.h"

namespace mpay {

template <typename PocoApp>
class WithConfigOption : public PocoApp {
 public:
  WithConfigOption() { this->setUnixOptions(true); }

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    options.addOption(helpOption());
    options.addOption(Poco::Util::Option("config", "c", "configuration file")
                          .argument("FILE")
                          .callback(Poco::Util::OptionCallback<WithConfigOption>(this, &WithConfigOption::takeConfig)));
  }
  const std::string& configPath() const { return config_path_; }

 private:
  void takeConfig(const std::string&, const std::string& value) { config_path_ = value; }
  std::string config_path_;
};

}  // namespace mpay
