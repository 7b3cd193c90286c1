// Reads a Project Wycheproof JSON file from tests/vectors/wycheproof/ (copied
// byte for byte from upstream; SOURCE.md there names the commit and digests).
#pragma once
#include <Poco/JSON/Object.h>

#include <functional>
#include <string>

#include "common/bytes.h"

namespace mpay::test {

Bytes unhex(const std::string& hex);

struct WycheproofCase {
  Poco::JSON::Object::Ptr group;
  Poco::JSON::Object::Ptr test;
  int id = 0;
  std::string result;  // valid, invalid, acceptable
  std::string hex(const std::string& field) const;   // test field
  Bytes bytes(const std::string& field) const { return unhex(hex(field)); }
  bool hasFlag(const std::string& flag) const;
};

// Calls `each` for every test case; returns how many there were.
int forEachWycheproofCase(const std::string& file, const std::function<void(const WycheproofCase&)>& each);

}  // namespace mpay::test
