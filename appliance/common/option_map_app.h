// A command-line tool built on Poco's Application whose options are a flat
// map of --name VALUE and --flag: mpay-client and mpay-bench. Poco parses
// and refuses unknown options; the tool reads the map in main().
#pragma once
#include <Poco/Util/Application.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace mpay {

class OptionMapApp : public Poco::Util::Application {
 protected:
  OptionMapApp(std::initializer_list<const char*> value_options, std::initializer_list<const char*> flag_options);
  void defineOptions(Poco::Util::OptionSet& options) override;
  const std::map<std::string, std::string>& options() const { return options_; }

 private:
  void takeOption(const std::string& name, const std::string& value);
  std::vector<std::string> value_options_, flag_options_;
  std::map<std::string, std::string> options_;
};

}  // namespace mpay
