// gateway.db_url as libpq reads it: one host, or several (a primary and its
// standbys) with target_session_attrs, and nothing libpq would read as
// another keyword.
#include <gtest/gtest.h>

#include "gateway/store.h"

namespace mpay::gateway {
namespace {

TEST(PostgresUrl, OneHost) {
  auto c = postgresConnectionString("postgresql://mpay:p%40ss@db.bank:5433/mpay?sslmode=verify-full");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.value(), "host='db.bank' port='5433' dbname='mpay' user='mpay' password='p@ss' sslmode='verify-full' "
                       "gssencmode='disable'");
}

TEST(PostgresUrl, SeveralHostsForFailover) {
  auto c = postgresConnectionString(
      "postgresql://mpay@10.0.0.5:5432,10.0.0.6,[fd00::7]:6432/mpay?target_session_attrs=read-write&connect_timeout=3");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.value(), "host='10.0.0.5,10.0.0.6,fd00::7' port='5432,5432,6432' dbname='mpay' user='mpay' "
                       "target_session_attrs='read-write' connect_timeout='3' gssencmode='disable'");
}

TEST(PostgresUrl, RefusesWhatLibpqWouldReadOtherwise) {
  for (const char* bad : {"mysql://a/b", "postgresql:///mpay", "postgresql://a,,b/mpay", "postgresql://a:99999/mpay",
                          "postgresql://a:x/mpay", "postgresql://a' sslmode='disable/mpay", "postgresql://a/mpay?options=-c",
                          "postgresql://a:0/mpay", "postgresql://a,b,/mpay"})
    EXPECT_FALSE(postgresConnectionString(bad).ok()) << bad;
}

TEST(PostgresUrl, ARefusedUrlDoesNotEchoAPassword) {
  auto c = postgresConnectionString("postgresql://mpay:s3cret/x@db/mpay");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.find("s3cret"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace mpay::gateway
