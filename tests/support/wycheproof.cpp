#include "support/wycheproof.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/dev_appliance.h"

namespace mpay::test {

Bytes unhex(const std::string& hex) {
  if (hex.size() % 2) throw std::runtime_error("odd hex");
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::string WycheproofCase::hex(const std::string& field) const { return test->getValue<std::string>(field); }

bool WycheproofCase::hasFlag(const std::string& flag) const {
  auto flags = test->getArray("flags");
  if (!flags) return false;
  for (std::size_t i = 0; i < flags->size(); ++i)
    if (flags->getElement<std::string>(static_cast<unsigned>(i)) == flag) return true;
  return false;
}

int forEachWycheproofCase(const std::string& file, const std::function<void(const WycheproofCase&)>& each) {
  const std::string path = vectorsDir() + "/wycheproof/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  Poco::JSON::Parser parser;
  auto root = parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>();
  auto groups = root->getArray("testGroups");
  int count = 0;
  for (std::size_t g = 0; g < groups->size(); ++g) {
    auto group = groups->getObject(static_cast<unsigned>(g));
    auto tests = group->getArray("tests");
    for (std::size_t t = 0; t < tests->size(); ++t) {
      WycheproofCase c;
      c.group = group;
      c.test = tests->getObject(static_cast<unsigned>(t));
      c.id = c.test->getValue<int>("tcId");
      c.result = c.test->getValue<std::string>("result");
      each(c);
      ++count;
    }
  }
  return count;
}

}  // namespace mpay::test
