// The gateway's edge: limits and malformed input.
#include <gtest/gtest.h>

#include <signal.h>

#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>
#include <vector>
#include <fstream>
#include <sstream>

#include "support/running_appliance.h"

namespace mpay {
namespace {

class HttpLimitsE2E : public ::testing::Test {
 protected:
  test::RunningAppliance app_{"gateway.max_body = 2048\ngateway.request_timeout_ms = 1000"};
  std::string error(const test::HttpAnswer& a) { return test::jsonField(a.body, "error"); }
};

TEST_F(HttpLimitsE2E, HealthAndPlatform) {
  auto health = app_.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(test::jsonField(health.body, "hsm"), "healthy");
  auto platform = app_.get("/v1/platform");
  EXPECT_EQ(test::jsonField(platform.body, "suite"), "mpay-v1");
}

TEST_F(HttpLimitsE2E, MalformedBodiesGetTheirCodes) {
  EXPECT_EQ(error(app_.post("/v1/login", "{not json")), "malformed_json");
  EXPECT_EQ(error(app_.post("/v1/login", "[1,2]")), "malformed_json");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"AA","c2":"AA","x":1})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"AA=="})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":"+8613800138000","c1":"!!","c2":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/login", R"({"phone":12,"c1":"AA","c2":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.post("/v1/register", R"({"sealed_info1":"AAAA"})")), "decrypt_failed");
  EXPECT_EQ(error(app_.post("/v1/pay", R"({"session_id":"AA"})")), "bad_field");
  EXPECT_EQ(error(app_.get("/v1/nothing")), "not_found");
  EXPECT_EQ(error(app_.get("/v1/login")), "method_not_allowed");
  EXPECT_EQ(app_.get("/healthz").status, 200) << "still serving";
}

TEST_F(HttpLimitsE2E, OversizedBodiesAreRefusedBeforeTheyAreRead) {
  auto big = app_.post("/v1/register", "{\"sealed_info1\":\"" + std::string(5000, 'A') + "\"}");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(error(big), "payload_too_large");
  // Chunked: no length up front, refused once the cap is passed.
  std::string chunked = "POST /v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 6; ++i) chunked += "400\r\n" + std::string(1024, 'A') + "\r\n";
  chunked += "0\r\n\r\n";
  auto answer = app_.raw(chunked);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer.substr(0, 200);
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos);
}

// A request smuggled in the body of one refused before its body was read
// is never answered: the connection ends with the first answer.
TEST_F(HttpLimitsE2E, NoRequestIsReadFromAnUnreadBody) {
  const std::string smuggled = "GET /v1/platform HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string cases[] = {
      // 413: the declared length is over the cap.
      "POST /v1/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + smuggled,
      // 404 and 405 answered without reading the body.
      "POST /v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
          smuggled,
      "GET /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
          smuggled,
  };
  for (const auto& request : cases) {
    const std::string answer = app_.raw(request);
    EXPECT_EQ(answer.rfind("HTTP/1.1 4", 0), 0u) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer:\n" << answer;
    EXPECT_TRUE(std::regex_search(answer, std::regex("\r\nConnection: close\r\n", std::regex::icase))) << answer;
  }
  // A body read in full keeps the connection (an honest client's keep-alive).
  const std::string body = R"({"sealed_info1":"AAAA"})";
  const std::string two = "POST /v1/register HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body + smuggled;
  const std::string answer = app_.raw(two);
  EXPECT_NE(answer.find("decrypt_failed"), std::string::npos) << answer;
  EXPECT_NE(answer.find("mpay-v1"), std::string::npos) << "the pipelined second request is served:\n" << answer;
}

TEST_F(HttpLimitsE2E, TruncatedBodiesDoNotHangOrCrashTheGateway) {
  // Content-Length promises more than is sent; the gateway answers within its deadline.
  auto answer = app_.raw("POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"phone\":");
  EXPECT_TRUE(answer.empty() || answer.find("HTTP/1.1 4") != std::string::npos) << answer.substr(0, 200);
  EXPECT_EQ(app_.get("/healthz").status, 200);
}

TEST(TlsE2E, TheFourFlowsOverHttpsWithTheDevCertificate) {
  test::RunningAppliance app("", /*tls=*/true);
  EXPECT_EQ(app.get("/healthz").status, 200);
  app.enroll("phone", "+8613800138020");
  ASSERT_EQ(app.client("phone", "login --password 'correct horse 42'").exit_code, 0);
  auto paid = app.client("phone", "pay --password 'correct horse 42' --pin 246810 --order TLS-1 --amount 1 --currency CNY --json");
  ASSERT_EQ(paid.exit_code, 0) << paid.output;
  EXPECT_EQ(test::jsonField(paid.output, "result"), "approved");
  // A client trusting something else (here the receipt certificate, not the
  // CA) refuses the gateway's certificate: nothing is sent.
  const std::string cmd = test::binDir() + "/mpay-client --server " + app.url() + " --ca " +
                          app.dev().config().public_dir + "/receipt.pem --state " + app.dev().dir() +
                          "/other register --phone +8613800138021 --imei 356938035643809 --sim 89860012345678901234"
                          " --password 'correct horse 42' --pin 246810 --name X --id-number 1 >/dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream outbox(app.dev().config().gateway.outbox);
  std::stringstream text;
  text << outbox.rdbuf();
  EXPECT_EQ(text.str().find("+8613800138021"), std::string::npos);
}

TEST(GatewayStartup, RefusesPlainHttpOffLoopback) {
  test::DevAppliance dev("gateway.listen = 0.0.0.0");
  const std::string cmd = test::binDir() + "/mpay-gateway --config " + dev.configPath() + " 2>" + dev.dir() + "/err.log";
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream err(dev.dir() + "/err.log");
  std::stringstream text;
  text << err.rdbuf();
  EXPECT_NE(text.str().find("plain HTTP is allowed on loopback only"), std::string::npos) << text.str();
}

TEST(HttpConnectionLimitE2E, ConnectionsBeyondTheCapGet503Overloaded) {
  test::RunningAppliance app("gateway.max_connections = 2\ngateway.max_threads = 2");
  // Idle connections (headers never finished) hold the cap. The gateway
  // counts a connection once it has accepted it, and one that has just
  // closed (the start-up health check's) until it notices: a loaded machine
  // may refuse one of the held ones instead, so hold another until a fresh
  // request is the one refused.
  std::vector<Poco::Net::StreamSocket> held;
  auto hold = [&] {
    held.emplace_back(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(app.port())));
    const std::string partial = "GET /healthz HTTP/1.1\r\n";
    held.back().sendBytes(partial.data(), static_cast<int>(partial.size()));
  };
  hold();
  hold();
  std::string answer;
  for (int i = 0; i < 50 && answer.find("503") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    answer = app.raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    if (answer.find("503") == std::string::npos && held.size() < 8) hold();
  }
  EXPECT_NE(answer.find("503"), std::string::npos) << answer;
  EXPECT_NE(answer.find("overloaded"), std::string::npos) << answer;
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(app.get("/healthz").status, 200);
  // The refusals are counted on the scrape listener, which has its own threads.
  const std::string scrape = app.metrics().body;
  EXPECT_EQ(scrape.find("\nmpay_http_connections_refused_total 0\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nmpay_http_connections_refused_total "), std::string::npos) << scrape;
}

// Processes whose argv is exactly {…/binary, "--config", config}, oldest first.
char procState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? 'X' : line[close + 2];
}

std::vector<int> processesOf(const std::string& binary, const std::string& config) {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::vector<std::string> argv;
    for (std::string arg; std::getline(in, arg, '\0');) argv.push_back(arg);
    if (argv.size() == 3 && argv[0].ends_with("/" + binary) && argv[1] == "--config" && argv[2] == config)
      out.push_back(std::stoi(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Two workers, fixed, so the count does not depend on the machine's cores.
constexpr char kTwoWorkers[] = "signer.workers = 2";
constexpr std::size_t kWorkers = 2;

// The signer's parent and its workers once all of them are up. A worker can
// miss its SoftHSM2 token at start while a sibling opens it (SoftHSMv2 #757)
// and comes back after its restart backoff; tests act on the full set.
struct SignerProcesses {
  pid_t parent = -1;
  std::vector<pid_t> workers;
};

SignerProcesses fullSigner(const test::RunningAppliance& app) {
  SignerProcesses now;
  for (int i = 0; i < 300; ++i) {  // 30 s: room for a few doubling restart delays
    auto parents = test::childrenOf(app.mpaydPid(), "mpay-signer");
    if (parents.size() == 1) {
      now = {parents.front(), test::childrenOf(parents.front())};
      if (now.workers.size() == kWorkers) return now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the signer never had its parent and " << kWorkers << " workers";
  return now;
}

TEST(MpaydE2E, RestartsACrashedGatewayAndSignerWorker) {
  test::RunningAppliance app(kTwoWorkers);
  auto gateways = processesOf("mpay-gateway", app.dev().configPath());
  ASSERT_EQ(gateways.size(), 1u);
  const SignerProcesses signer = fullSigner(app);
  ASSERT_EQ(signer.workers.size(), kWorkers);
  kill(gateways.front(), SIGKILL);
  kill(signer.workers.front(), SIGKILL);
  bool back = false;
  for (int i = 0; i < 300 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now_gateways = processesOf("mpay-gateway", app.dev().configPath());
    try {
      back = now_gateways.size() == 1 && now_gateways.front() != gateways.front() &&
             processesOf("mpay-signer", app.dev().configPath()).size() == kWorkers + 1 &&
             app.get("/healthz").status == 200;
    } catch (const Poco::Exception&) {
    }
  }
  EXPECT_TRUE(back) << "mpayd did not restart the gateway and the signer worker";
  EXPECT_EQ(test::childrenOf(app.mpaydPid(), "mpay-signer"), std::vector<pid_t>{signer.parent})
      << "a killed worker is replaced by its parent, not by a new signer";
  app.enroll("phone", "+8613800138030");
  EXPECT_EQ(app.client("phone", "login --password 'correct horse 42'").exit_code, 0);
}

TEST(MpaydE2E, AKilledSignerParentTakesItsWorkersWithIt) {
  test::RunningAppliance app(kTwoWorkers);
  const SignerProcesses old_signer = fullSigner(app);
  ASSERT_EQ(old_signer.workers.size(), kWorkers);
  kill(old_signer.parent, SIGKILL);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = true;
    for (pid_t w : old_signer.workers) gone = gone && (kill(w, 0) != 0 || procState(w) == 'Z');
  }
  EXPECT_TRUE(gone) << "no orphaned worker keeps the old socket and token sessions";
  EXPECT_TRUE(app.healthyWithin(20)) << "mpayd restarted the signer";
  const SignerProcesses new_signer = fullSigner(app);
  EXPECT_NE(new_signer.parent, old_signer.parent);
  EXPECT_EQ(processesOf("mpay-signer", app.dev().configPath()).size(), kWorkers + 1)
      << "the new signer parent and its workers, nothing else";
}

// The signer closes connections idle past signer.idle_timeout_s; the
// gateway's pool notices before it spends a request on one.
TEST(SignerIdleE2E, AfterAnIdlePeriodTheFirstRequestsSucceed) {
  test::RunningAppliance app("signer.idle_timeout_s = 1\ngateway.signer_connections = 4");
  // Several requests at once, so that the pool holds more than one connection.
  std::vector<std::thread> warm;
  for (int i = 0; i < 4; ++i) warm.emplace_back([&] { (void)app.get("/healthz"); });
  for (auto& t : warm) t.join();
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // every pooled connection is closed by now
    for (int i = 0; i < 4; ++i) {
      auto health = app.get("/healthz");
      EXPECT_EQ(health.status, 200) << "round " << round << " request " << i << ": " << health.body;
    }
  }
}

// /healthz says what a payment would find: a database that answers but
// cannot commit is down, and healthy again once it can.
TEST(HealthE2E, ADatabaseThatCannotCommitIsUnhealthyUntilItCan) {
  test::RunningAppliance app;
  ASSERT_EQ(app.get("/healthz").status, 200);
  if (test::RunningAppliance::backend() == "sqlite") {
    app.sql("CREATE TRIGGER refuse_writes BEFORE UPDATE ON health_probe BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  } else {
    app.sql("CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$");
    app.sql("CREATE TRIGGER refuse_writes BEFORE UPDATE ON health_probe FOR EACH ROW EXECUTE FUNCTION refuse_writes()");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the last probe
  auto down = app.get("/healthz");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find("database_unavailable"), std::string::npos) << down.body;
  app.sql(test::RunningAppliance::backend() == "sqlite" ? "DROP TRIGGER refuse_writes"
                                                         : "DROP TRIGGER refuse_writes ON health_probe");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(app.get("/healthz").status, 200);
}

// mpayd honours SIGTERM within 5 s even when a child does not: here the
// whole signer is stopped (SIGSTOP) and cannot act on its own SIGTERM.
TEST(MpaydStopE2E, SigtermEndsItWithinFiveSecondsWhenTheSignerHangs) {
  test::RunningAppliance app(kTwoWorkers);
  std::vector<pid_t> signer = test::childrenOf(app.mpaydPid(), "mpay-signer");
  ASSERT_EQ(signer.size(), 1u);
  std::vector<pid_t> workers = test::childrenOf(signer.front());
  for (pid_t p : workers) kill(p, SIGSTOP);
  kill(signer.front(), SIGSTOP);
  const long took = app.stop(5000);
  for (pid_t p : workers) {  // orphaned and stopped: not mpayd's to reap
    kill(p, SIGKILL);
    kill(p, SIGCONT);
  }
  EXPECT_GE(took, 0) << "mpayd still ran 5 s after SIGTERM";
  EXPECT_LT(took, 5000);
}

// A gateway that cannot write its start record (the signer is down) answers
// 503 at once instead of leaving clients waiting, and serves as soon as the
// signer is back.
TEST(SignerDownE2E, AStartingGatewayAnswers503AtOnceAndServesOnceTheSignerIsBack) {
  test::RunningAppliance app(kTwoWorkers);
  std::vector<pid_t> signer = test::childrenOf(app.mpaydPid(), "mpay-signer");
  ASSERT_EQ(signer.size(), 1u);
  std::vector<pid_t> stopped = signer;
  for (pid_t w : test::childrenOf(signer.front())) stopped.push_back(w);
  for (pid_t p : stopped) kill(p, SIGSTOP);
  for (pid_t gateway : test::childrenOf(app.mpaydPid(), "mpay-gateway")) kill(gateway, SIGKILL);
  // The replacement gateway listens, but has no start record.
  test::HttpAnswer answer;
  for (int i = 0; i < 100 && answer.status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      const auto started = std::chrono::steady_clock::now();
      answer = app.get("/healthz");
      if (answer.status == 503) {
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1)) << "a 503 that took its time";
      }
    } catch (const std::exception&) {  // not listening yet
    }
  }
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_NE(answer.body.find("signer_unavailable"), std::string::npos) << answer.body;
  for (pid_t p : stopped) kill(p, SIGCONT);
  EXPECT_TRUE(app.healthyWithin(5)) << app.log();
}

TEST(HttpRateLimitE2E, PerSourceLimitAnswers429) {
  test::RunningAppliance app("gateway.rate_per_source = 5");
  int limited = 0;
  for (int i = 0; i < 8; ++i)
    if (app.get("/v1/platform").status == 429) ++limited;
  EXPECT_GE(limited, 2);
  // A refused client is told when the next window starts (1 to 60 s).
  std::string answer;
  for (int i = 0; i < 7 && answer.rfind("HTTP/1.1 429", 0) != 0; ++i)  // a new window may have begun
    answer = app.raw("GET /v1/platform HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(answer.rfind("HTTP/1.1 429", 0), 0u) << answer;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(answer, m, std::regex("\r\nRetry-After: ([0-9]+)\r\n"))) << answer;
  EXPECT_GE(std::stoi(m[1]), 1);
  EXPECT_LE(std::stoi(m[1]), 60);
}

}  // namespace
}  // namespace mpay
