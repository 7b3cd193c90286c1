// The real mpay-signer process: bad frames on the socket change nothing and
// the signer keeps serving.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/audit_log.h"
#include "common/frame_io.h"
#include "support/signer_process.h"

namespace mpay {
namespace {

int rawConnect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

ErrorCode statusOf(const Bytes& body) {
  return static_cast<ErrorCode>((body.at(1) << 8) | body.at(2));
}

class SignerProcessTest : public ::testing::Test {
 protected:
  test::DevAppliance appliance_{"signer.workers = 2\nsigner.pkcs12_iterations = 10000"};
  test::SignerProcess signer_{appliance_};
};

TEST_F(SignerProcessTest, SocketIsGroupOnly) {
  struct stat st{};
  ASSERT_EQ(stat(appliance_.config().signer.socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(SignerProcessTest, BadFramesGetCodesAndTheSignerKeepsServing) {
  auto client = signer_.connect();
  // Wrong version, unknown op, malformed payload: answered on the same connection.
  Bytes frame = wire::encodeRequest(wire::OpId::kPlatformInfo, 9, {});
  frame[4] = 99;
  EXPECT_EQ(statusOf(client.exchangeRaw(frame).value()), ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(statusOf(client.exchangeRaw(wire::encodeRequest(static_cast<wire::OpId>(0x4242), 10, {})).value()),
            ErrorCode::kUnknownOperation);
  EXPECT_EQ(statusOf(client.exchangeRaw(wire::encodeRequest(wire::OpId::kOpenRegistration, 11, asBytes("zz"))).value()),
            ErrorCode::kBadFrame);
  ASSERT_TRUE(client.platformInfo().ok());

  // Oversized: answered, then the connection is closed (the stream cannot resync).
  {
    int fd = rawConnect(appliance_.config().signer.socket);
    Bytes huge = {0x7f, 0xff, 0xff, 0xff};
    ASSERT_TRUE(writeAll(fd, huge).ok());
    auto reply = readFrame(fd, 1 << 20);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(statusOf(reply.value()), ErrorCode::kFrameTooLarge);
    EXPECT_FALSE(readFrame(fd, 1 << 20).ok());
    close(fd);
  }
  // Truncated: half a frame and a hang-up.
  {
    int fd = rawConnect(appliance_.config().signer.socket);
    Bytes full = wire::encodeRequest(wire::OpId::kPlatformInfo, 12, {});
    ASSERT_TRUE(writeAll(fd, ByteView(full).first(6)).ok());
    close(fd);
  }
  // Every worker still answers.
  for (int i = 0; i < 6; ++i) {
    auto c = signer_.connect();
    EXPECT_TRUE(c.platformInfo().ok());
    EXPECT_EQ(c.health()->state, 0);
  }
  signer_.stop();
  auto verified = verifyAuditLog(appliance_.config().signer.audit_log);
  ASSERT_TRUE(verified.ok()) << verified.error().detail;
  EXPECT_GE(verified->records, 2u + 4u + 12u);  // two worker starts, four answered bad frames, the calls
  // The oversized frame, refused before any request could be read, is in the log too.
  std::ifstream log(appliance_.config().signer.audit_log);
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find(R"("op":"connection")"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(R"("result":"frame_too_large")"), std::string::npos) << text.str();
}

TEST_F(SignerProcessTest, StopsOnSigtermAndRemovesItsSocket) {
  int status = signer_.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(access(appliance_.config().signer.socket.c_str(), F_OK), 0);
}

TEST(SignerStartup, RefusesToStartWithABrokenPolicy) {
  test::DevAppliance appliance;
  std::ofstream(appliance.config().policy_dir + "/keys", std::ios::app) << "service colour blue\n";
  const std::string cmd = test::binDir() + "/mpay-signer --config " + appliance.configPath() + " 2>" +
                          appliance.dir() + "/err.log";
  int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  std::ifstream err(appliance.dir() + "/err.log");
  std::stringstream text;
  text << err.rdbuf();
  EXPECT_NE(text.str().find("unknown attribute 'colour'"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace mpay
