// A statement kept on its connection runs again with new values, reports
// rows found or changed, and refuses a value of the wrong kind; the pool
// finds a connection by its session and closes one that broke.
#include <gtest/gtest.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Exception.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "gateway/db_connections.h"

namespace mpay::gateway {
namespace {

using Poco::Data::Keywords::now;

class PreparedStatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Poco::Data::SQLite::Connector::registerConnector();
    path_ = (std::filesystem::temp_directory_path() / ("mpay-prepared-" + std::to_string(::getpid()) + ".db")).string();
    std::filesystem::remove(path_);
    pool_ = std::make_unique<DbConnections>("SQLite", path_, 2, [](const std::string& s) { return s; });
    auto lease = pool_->get();
    lease->session() << "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)", now;
  }
  void TearDown() override {
    pool_.reset();
    std::filesystem::remove(path_);
  }
  std::string path_;
  std::unique_ptr<DbConnections> pool_;
};

TEST_F(PreparedStatementTest, RunsAgainWithNewValuesAndCountsRows) {
  auto lease = pool_->get();
  auto& insert = lease->prepared("INSERT INTO t (k, n) VALUES (?, ?) ON CONFLICT DO NOTHING", "tn", "");
  EXPECT_EQ(insert.run(std::string("a"), 1), 1u);
  EXPECT_EQ(insert.run(std::string("b"), std::int64_t{2}), 1u);
  EXPECT_EQ(insert.run(std::string("a"), 3), 0u);  // the conflict changed nothing
  auto& find = lease->prepared("SELECT n, k FROM t WHERE k = ?", "t", "nt");
  ASSERT_EQ(find.run(std::string("b")), 1u);
  EXPECT_EQ(find.number(0), 2);
  EXPECT_EQ(find.text(1), "b");
  ASSERT_EQ(find.run(std::string("a")), 1u);
  EXPECT_EQ(find.number(0), 1);
  EXPECT_EQ(find.run(std::string("nobody")), 0u);
  // The same text is the same statement on this connection.
  EXPECT_EQ(&find, &lease->prepared("SELECT n, k FROM t WHERE k = ?", "t", "nt"));
}

TEST_F(PreparedStatementTest, AValueOrAColumnOfTheWrongKindIsRefused) {
  auto lease = pool_->get();
  auto& find = lease->prepared("SELECT n FROM t WHERE k = ?", "t", "n");
  EXPECT_THROW(find.run(std::int64_t{1}), Poco::InvalidArgumentException);
  EXPECT_THROW(find.run(std::string("a"), std::string("extra")), Poco::InvalidArgumentException);
  EXPECT_THROW(find.run(), Poco::InvalidArgumentException);  // too few would run with the last values
  find.run(std::string("a"));
  EXPECT_THROW(find.text(0), Poco::InvalidArgumentException);
  EXPECT_THROW(find.number(1), Poco::InvalidArgumentException);
}

TEST_F(PreparedStatementTest, TheStoreFindsAConnectionByItsSessionAndConnectionsAreReused) {
  Poco::Data::SessionImpl* first = nullptr;
  {
    auto lease = pool_->get();
    EXPECT_EQ(pool_->find(lease->session()), &*lease);
    first = lease->session().impl();
  }
  auto again = pool_->get();
  EXPECT_EQ(again->session().impl(), first);  // given back, then taken again
  auto second = pool_->get();
  EXPECT_NE(second->session().impl(), first);
  Poco::Data::Session stranger("SQLite", path_);
  EXPECT_EQ(pool_->find(stranger), nullptr);
}

TEST_F(PreparedStatementTest, AConnectionLeftInATransactionIsRolledBackWhenGivenBack) {
  {
    auto lease = pool_->get();
    lease->session().begin();
    lease->prepared("INSERT INTO t (k, n) VALUES (?, ?)", "tn", "").run(std::string("x"), 1);
  }
  auto lease = pool_->get();
  EXPECT_FALSE(lease->session().isTransaction());
  EXPECT_EQ(lease->prepared("SELECT n FROM t WHERE k = ?", "t", "n").run(std::string("x")), 0u);
}

// A run that fails (here a constraint) leaves the statement to be prepared
// anew at its next use, which then works.
TEST_F(PreparedStatementTest, AStatementWhoseRunFailedIsPreparedAgain) {
  auto lease = pool_->get();
  auto* insert = &lease->prepared("INSERT INTO t (k, n) VALUES (?, ?)", "tn", "");
  ASSERT_EQ(insert->run(std::string("dup"), 1), 1u);
  EXPECT_THROW(insert->run(std::string("dup"), 2), Poco::Exception);
  EXPECT_TRUE(insert->broken());
  insert = &lease->prepared("INSERT INTO t (k, n) VALUES (?, ?)", "tn", "");
  EXPECT_FALSE(insert->broken());
  EXPECT_EQ(insert->run(std::string("fresh"), 3), 1u);
}

}  // namespace
}  // namespace mpay::gateway
