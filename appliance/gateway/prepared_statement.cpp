#include "gateway/prepared_statement.h"

#include <Poco/Exception.h>

#include <memory>

namespace mpay::gateway {

using namespace Poco::Data::Keywords;

PreparedStatement::PreparedStatement(Poco::Data::Session& session, const std::string& sql, std::string_view params,
                                     std::string_view results)
    : params_(params),
      results_(results),
      leak_when_broken_(session.connector() == "postgresql"),
      statement_(std::make_unique<Poco::Data::Statement>(session)) {
  // Storage first, sized once: the bindings keep references into it.
  const std::string all = params_ + results_;
  std::size_t texts = 0, numbers = 0;
  for (char kind : all) slot_.push_back(kind == 'n' ? numbers++ : texts++);
  texts_.resize(texts);
  numbers_.resize(numbers);
  Poco::Data::Statement& statement = *statement_;
  statement << sql;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i] == 'n') statement, use(numbers_[slot_[i]]);
    else statement, use(texts_[slot_[i]]);
  }
  for (std::size_t j = 0; j < results_.size(); ++j) {
    const std::size_t k = params_.size() + j;
    if (results_[j] == 'n') statement, into(numbers_[slot_[k]]);
    else statement, into(texts_[slot_[k]]);
  }
}

PreparedStatement::~PreparedStatement() {
  // Poco 1.11's PostgreSQL statement frees its last result before it runs
  // again without forgetting it: when that run throws (the server died, say),
  // destroying the statement frees the result a second time — a double free
  // that killed the gateway at a database failover (found under ASan by the
  // cluster's failover test). Such a statement is left undestroyed: a few
  // kilobytes once per statement per failed run; its connection is closed
  // and replaced all the same (db_connections.cpp).
  if (broken_ && leak_when_broken_) (void)statement_.release();
}

void PreparedStatement::bind(std::size_t i, const std::string& value) {
  if (i >= params_.size() || params_[i] != 't') throw Poco::InvalidArgumentException("parameter kind");
  texts_[slot_[i]] = value;
}

void PreparedStatement::bind(std::size_t i, std::int64_t value) {
  if (i >= params_.size() || params_[i] != 'n') throw Poco::InvalidArgumentException("parameter kind");
  numbers_[slot_[i]] = value;
}

std::size_t PreparedStatement::execute() {
  try {
    return statement_->execute();
  } catch (...) {
    broken_ = true;
    throw;
  }
}

const std::string& PreparedStatement::text(std::size_t column) const {
  if (column >= results_.size() || results_[column] != 't') throw Poco::InvalidArgumentException("column kind");
  return texts_[slot_[params_.size() + column]];
}

std::int64_t PreparedStatement::number(std::size_t column) const {
  if (column >= results_.size() || results_[column] != 'n') throw Poco::InvalidArgumentException("column kind");
  return numbers_[slot_[params_.size() + column]];
}

}  // namespace mpay::gateway
