// The operator's console on the management listener: who may see it, and
// what it shows, checked against the running appliance — first over HTTP,
// then as a browser renders it (Debian's Chromium, headless), which also
// leaves a screenshot as a test artefact.
#include <gtest/gtest.h>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/bytes.h"
#include "gateway/json_fields.h"
#include "suite/primitives.h"
#include "support/running_appliance.h"

namespace mpay {
namespace {

namespace fs = std::filesystem;

std::string basic(const std::string& user, const std::string& password) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << user << ":" << password;
  encoder.close();
  return "Basic " + out.str();
}

// The SHA-256 fingerprint of a base64url field of GET /v1/platform.
std::string fingerprintOf(const test::RunningAppliance& app, const std::string& field) {
  auto platform = app.get("/v1/platform");
  auto object = Poco::JSON::Parser().parse(platform.body).extract<Poco::JSON::Object::Ptr>();
  auto bytes = gateway::unbase64url(object->getValue<std::string>(field), 1 << 16);
  return bytes.ok() ? hexEncode(suite::sha256(bytes.value())) : "undecodable";
}

// Where test artefacts go: MPAY_TEST_ARTEFACTS, or test-artefacts/ in the build directory.
fs::path artefactDir() {
  const char* set = std::getenv("MPAY_TEST_ARTEFACTS");
  fs::path dir = set && *set ? fs::path(set) : fs::path(test::binDir()).parent_path() / "test-artefacts";
  fs::create_directories(dir);
  return dir;
}

// Headless Chromium on `url`; `mode` is --dump-dom or --screenshot=FILE.
std::string chromium(const test::RunningAppliance& app, const std::string& mode, const std::string& url) {
  test::TempDir profile;
  const std::string command = "{ timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                              "--disable-background-networking --disable-extensions --no-first-run "
                              "--disable-component-update --window-size=1280,1700 --user-data-dir=" +
                              profile.path() + " " + mode + " '" + url + "'; } 2>/dev/null";
  return app.runCommand(command).output;
}

// The text of the element with this id up to the next '<'.
std::string textOf(const std::string& html, const std::string& id) {
  const auto at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "(no #" + id + ")";
  const auto start = html.find('>', at) + 1;
  return html.substr(start, html.find('<', start) - start);
}

TEST(ConsoleE2E, OnlyTheTokenHolderSeesIt) {
  test::RunningAppliance app;
  const std::string token = app.consoleToken();
  ASSERT_GE(token.size(), 32u);

  auto none = app.console("GET", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.headers["www-authenticate"].find("Basic realm=\"mpay console\""), std::string::npos);
  EXPECT_NE(none.body.find("\"unauthorized\""), std::string::npos) << none.body;
  EXPECT_EQ(none.body.find("<html"), std::string::npos);
  EXPECT_EQ(app.console("GET", basic("operator", token + "x")).status, 401);
  EXPECT_EQ(app.console("GET", basic("operator", token.substr(1))).status, 401);
  EXPECT_EQ(app.console("GET", "Bearer " + token.substr(0, 31)).status, 401);
  EXPECT_EQ(app.console("GET", "Digest " + token).status, 401);
  EXPECT_EQ(app.console("GET", "Basic !!!not-base64").status, 401);

  auto page = app.console("GET", basic("anyone", token));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(page.headers["cache-control"], "no-store");
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(app.console("GET", "Bearer " + token).status, 200);
  EXPECT_EQ(app.console("POST", "Bearer " + token).status, 405) << "read-only";
  // Another site's page in the operator's browser cannot make it load the console.
  EXPECT_EQ(app.console("GET", "Bearer " + token, "Sec-Fetch-Site: cross-site").status, 401);
  EXPECT_EQ(app.console("GET", "Bearer " + token, "Sec-Fetch-Site: same-site").status, 401);
  EXPECT_EQ(app.console("GET", "Bearer " + token, "Sec-Fetch-Site: none").status, 200);
  // A link from another site is a top-level navigation: the operator's own click.
  auto link = app.console("GET", "Bearer " + token, "Sec-Fetch-Site: cross-site\nSec-Fetch-Mode: navigate\nSec-Fetch-Dest: document");
  EXPECT_EQ(link.status, 200);
  EXPECT_EQ(app.get("/console").status, 404) << "never on the phones' port";
  EXPECT_NE(app.log().find("event=console_denied"), std::string::npos);
}

TEST(ConsoleE2E, ChromiumShowsTheRunningApplianceAndLeavesAScreenshot) {
  // A short acquirer timeout, so that a slow acquirer leaves an order open.
  test::RunningAppliance app("gateway.acquirer_timeout_ms = 400");
  const std::string phone = app.enroll("phone", "+8613800138050");
  ASSERT_EQ(app.client("phone", "login --password 'correct horse 42'").exit_code, 0);
  auto paid = app.client("phone", "pay --password 'correct horse 42' --pin 246810 --order C-1 --amount 3.00 --currency CNY");
  ASSERT_EQ(paid.exit_code, 0) << paid.output;
  EXPECT_EQ(app.get("/v1/login").status, 405);
  // The acquirer answers after the gateway gave up: the order's outcome is unknown, and stays open.
  ASSERT_EQ(app.acquirerControl("{\"delay_ms\": 3000}").status, 200);
  auto pending = app.client("phone", "pay --password 'correct horse 42' --pin 246810 --order C-OPEN-2 --amount 7.50 --currency CNY");
  EXPECT_NE(pending.output.find("payment_pending"), std::string::npos) << pending.output;
  ASSERT_NE(app.admin("orders").output.find("C-OPEN-2"), std::string::npos);

  const std::string url = "http://operator:" + app.consoleToken() + "@127.0.0.1:" + std::to_string(app.port() + 2) +
                          "/console";
  const std::string dom = chromium(app, "--dump-dom", url);
  ASSERT_NE(dom.find("<h1>mpay appliance</h1>"), std::string::npos) << dom;
  EXPECT_EQ(textOf(dom, "health-signer"), "ok");
  EXPECT_EQ(textOf(dom, "health-hsm"), "healthy");
  EXPECT_EQ(textOf(dom, "health-database"), "ok");
  // The counters of /metrics, by route and result.
  EXPECT_NE(dom.find("<td>/v1/pay</td><td>ok</td>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<td>/v1/login</td><td>method_not_allowed</td>"), std::string::npos) << dom;
  EXPECT_NE(app.metrics().body.find("mpay_http_requests_total{result=\"method_not_allowed\",route=\"/v1/login\"} 1"),
            std::string::npos);
  // The open order, as mpay-admin orders lists it.
  EXPECT_EQ(textOf(dom, "open-orders-count"), "1");
  EXPECT_NE(dom.find("<td>C-OPEN-2</td>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("750 CNY (minor units)"), std::string::npos);
  EXPECT_EQ(dom.find("<td>C-1</td>"), std::string::npos) << "a final order is not waiting";
  // The fingerprints of the keys the phones use.
  EXPECT_NE(dom.find(fingerprintOf(app, "service_public_key")), std::string::npos);
  EXPECT_NE(dom.find(fingerprintOf(app, "ca_certificate")), std::string::npos);
  EXPECT_NE(dom.find(fingerprintOf(app, "receipt_certificate")), std::string::npos);
  EXPECT_NE(textOf(dom, "rotation").find("Service key at generation 1; no overlap in progress"), std::string::npos);
  // The latest audit records: the payment's operations, and no secret or phone number.
  EXPECT_NE(dom.find("<td>open_payment</td><td>ok</td>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<td>sign_receipt</td><td>ok</td>"), std::string::npos) << dom;
  EXPECT_EQ(dom.find(phone.substr(1)), std::string::npos) << "no phone number on the console";
  EXPECT_EQ(dom.find("246810"), std::string::npos);
  EXPECT_EQ(dom.find(app.consoleToken()), std::string::npos);

  const fs::path shot = artefactDir() / ("console-" + test::RunningAppliance::backend() + ".png");
  fs::remove(shot);
  chromium(app, "--screenshot=" + shot.string(), url);
  ASSERT_TRUE(fs::exists(shot)) << "no screenshot";
  EXPECT_GT(fs::file_size(shot), 20000u) << "a blank page is smaller";
  std::printf("console screenshot: %s\n", shot.c_str());

  // The order closes once the acquirer answers in time again; the console follows.
  ASSERT_EQ(app.acquirerControl("{\"delay_ms\": 0}").status, 200);
  std::string count;
  for (int i = 0; i < 60 && count != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    count = textOf(app.console("GET", "Bearer " + app.consoleToken()).body, "open-orders-count");
  }
  EXPECT_EQ(count, "0");
}

}  // namespace
}  // namespace mpay
