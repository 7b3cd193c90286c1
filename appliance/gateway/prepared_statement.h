// A statement prepared once on one connection and run again and again with
// new values: PostgreSQL parses and plans it once (Poco prepares, describes
// and deallocates a statement each time one is built: four round trips where
// a kept one takes one), and neither database has Poco build and bind a new
// statement object per query. Its parameters and results live in the object
// (Poco binds them by reference), so it belongs to one connection and is
// used by whoever holds that connection.
#pragma once
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <concepts>
#include <memory>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mpay::gateway {

class PreparedStatement {
 public:
  // `params` and `results`: a letter a placeholder and a result column, in
  // order: 't' text, 'n' integer (64 bits).
  PreparedStatement(Poco::Data::Session& session, const std::string& sql, std::string_view params,
                    std::string_view results);
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  // Binds `values` to the placeholders in order and runs it: the number of
  // rows fetched (a query) or changed.
  template <typename... Values>
  std::size_t run(const Values&... values) {
    // Too few would leave the last run's values bound.
    if (sizeof...(Values) != params_.size()) throw Poco::InvalidArgumentException("parameter count");
    std::size_t i = 0;
    (bind(i++, values), ...);
    return execute();
  }
  // A run that threw may leave Poco's statement unable to run again: the
  // connection prepares a new one in its place.
  bool broken() const { return broken_; }
  const std::string& text(std::size_t column) const;
  std::int64_t number(std::size_t column) const;

 private:
  void bind(std::size_t i, const std::string& value);
  void bind(std::size_t i, std::int64_t value);
  template <std::integral I>
    requires(!std::same_as<I, std::int64_t>)
  void bind(std::size_t i, I value) {
    bind(i, static_cast<std::int64_t>(value));
  }
  std::size_t execute();
  std::string params_, results_;
  std::vector<std::size_t> slot_;  // parameter i, then result column j (after the parameters) -> its storage
  std::vector<std::string> texts_;
  std::vector<Poco::Int64> numbers_;
  bool broken_ = false;
  bool leak_when_broken_;  // see the destructor
  std::unique_ptr<Poco::Data::Statement> statement_;
};

}  // namespace mpay::gateway
