#include "acquirer_sim/acquirer_sim.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/command_line.h"
#include "common/log.h"
#include "gateway/json_fields.h"
#include "suite/acquirer_answer.h"
#include "suite/primitives.h"

namespace mpay::acquirer_sim {
namespace {

constexpr char kUsage[] =
    "usage: mpay-acquirer-sim --port N --signing-key FILE [--limit MINOR] [--ledger FILE]\n"
    "       mpay-acquirer-sim --make-identity KEY:CERT\n"
    "  A development acquirer on 127.0.0.1:N: approves or declines each order once, signs every\n"
    "  answer with FILE's P-256 key; --limit declines larger amounts; --ledger keeps the debits as\n"
    "  JSON lines. Never part of a bank's appliance; see mpay-acquirer-sim(1).\n";

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

struct Debit {
  bool approved = false;
  std::string transaction_no;
  std::string phone;  // the payer
  std::uint64_t amount_minor = 0;
  std::string currency;
  std::uint64_t time = 0;  // when it was decided; every answer for the order carries it
};

// The ledger as a bank's reconciliation file: one JSON line per order,
// appended and flushed to disk before the acquirer answers, so a debit it
// answered for survives it being killed.
class LedgerFile {
 public:
  Status open(const std::string& path, std::map<std::string, Debit>& orders, std::uint64_t& next_txn) {
    if (path.empty()) return {};
    std::ifstream in(path);
    std::string line;
    off_t complete = 0;  // the bytes up to the last whole line
    while (std::getline(in, line) && !in.eof()) {
      try {
        auto e = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
        Debit d{e->getValue<std::string>("result") == "approved", e->getValue<std::string>("transaction_no"),
                e->optValue<std::string>("phone", ""), e->getValue<std::uint64_t>("amount_minor"), e->getValue<std::string>("currency"),
                e->optValue<std::uint64_t>("time", 0)};  // older ledgers have none
        orders.emplace(e->getValue<std::string>("order_no"), d);
        ++next_txn;
        complete += static_cast<off_t>(line.size() + 1);
      } catch (const Poco::Exception&) {
        break;
      }
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    // A line torn by a kill mid-write was never answered, so it is no debit: cut it.
    if (fd_ < 0 || ::ftruncate(fd_, complete) != 0) return fail(ErrorCode::kIo, "cannot open the ledger " + path);
    return {};
  }
  Status append(const std::string& order, const Debit& d) {
    if (fd_ < 0) return {};
    const std::string line = gateway::toJson(entry(order, d)) + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fdatasync(fd_) != 0)
      return fail(ErrorCode::kIo, "cannot append to the ledger");
    return {};
  }
  static Poco::JSON::Object entry(const std::string& order, const Debit& d) {
    Poco::JSON::Object e(Poco::JSON_PRESERVE_KEY_ORDER);
    e.set("order_no", order);
    e.set("result", d.approved ? "approved" : "declined");
    e.set("transaction_no", d.transaction_no);
    e.set("phone", d.phone);
    e.set("amount_minor", d.amount_minor);
    e.set("currency", d.currency);
    e.set("time", d.time);
    return e;
  }

 private:
  int fd_ = -1;
};

struct Bank {
  std::optional<suite::EcPrivateKey> key;       // signs every answer
  std::optional<suite::EcPrivateKey> stranger;  // signs instead while sign_with_another_key is set
  std::mutex mutex;
  LedgerFile file;
  std::map<std::string, Debit> orders;  // the ledger: one entry per order, as first authorised
  std::set<std::string> decline_orders;
  std::uint64_t limit = 0;
  int delay_ms = 0;
  int fail_next = 0;
  std::uint64_t calls = 0, next_txn = 1;
};

void answer(HTTPServerResponse& response, int status, const Poco::JSON::Object& body) {
  const std::string text = gateway::toJson(body);
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text;
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Bank& bank) : bank_(bank) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    Poco::JSON::Object out;
    try {
      std::string body;
      Poco::StreamCopier::copyToString(request.stream(), body, 65536);
      if (request.getURI() == "/v1/authorize" && request.getMethod() == "POST") return authorize(body, response);
      if (request.getURI() == "/control" && request.getMethod() == "POST") return control(body, response);
      if (request.getURI() == "/control" && request.getMethod() == "GET") {
        std::lock_guard lock(bank_.mutex);
        out.set("calls", bank_.calls);
        out.set("authorizations", static_cast<std::uint64_t>(bank_.orders.size()));
        return answer(response, 200, out);
      }
      if (request.getURI() == "/ledger" && request.getMethod() == "GET") return ledger(response);
      out.set("error", "not_found");
      answer(response, 404, out);
    } catch (const Poco::Exception& e) {
      out.set("error", "bad_request");
      out.set("message", e.displayText());
      answer(response, 400, out);
    }
  }

 private:
  void authorize(const std::string& body, HTTPServerResponse& response) {
    Poco::JSON::Parser parser;
    auto in = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    const std::string order = in->getValue<std::string>("order_no");
    const std::string phone = in->getValue<std::string>("phone");
    const auto amount = in->getValue<std::uint64_t>("amount_minor");
    const std::string currency = in->getValue<std::string>("currency");
    int delay = 0;
    bool fail_now = false, mismatch = false;
    Debit result;
    {
      std::lock_guard lock(bank_.mutex);
      ++bank_.calls;
      delay = bank_.delay_ms;
      if (bank_.fail_next > 0) {
        --bank_.fail_next;
        fail_now = true;
      } else {
        auto it = bank_.orders.find(order);
        if (it == bank_.orders.end()) {  // first time: decide, write down, remember
          const bool approved = !bank_.decline_orders.contains(order) && (bank_.limit == 0 || amount <= bank_.limit);
          const Debit debit{approved, "SIM" + std::to_string(bank_.next_txn++), phone, amount, currency,
                            static_cast<std::uint64_t>(std::time(nullptr))};
          if (!bank_.file.append(order, debit).ok()) {
            fail_now = true;
          } else {
            it = bank_.orders.emplace(order, debit).first;
          }
        }
        if (!fail_now) {
          result = it->second;
          // Asked again for an order, an acquirer answers only for the same terms.
          mismatch = result.phone != phone || result.amount_minor != amount || result.currency != currency;
        }
      }
    }
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
    if (fail_now) {
      out.set("error", "unavailable");
      return answer(response, 500, out);
    }
    if (mismatch) {
      out.set("error", "order_terms_differ");
      return answer(response, 409, out);
    }
    // Signed, as real acquirers MAC or sign theirs: the signer checks it.
    const suite::AcquirerAnswer signed_answer{order, result.phone, result.amount_minor, result.currency,
                                              result.approved ? suite::PaymentResult::kApproved
                                                              : suite::PaymentResult::kDeclined,
                                              result.transaction_no, result.time};
    const suite::EcPrivateKey* signer = &*bank_.key;
    {
      std::lock_guard lock(bank_.mutex);
      if (bank_.stranger) signer = &*bank_.stranger;
    }
    auto signature = signer->signDer(suite::acquirerAnswerBytes(signed_answer));
    if (!signature) {
      out.set("error", "unavailable");
      return answer(response, 500, out);
    }
    out.set("order_no", order);
    out.set("phone", result.phone);
    out.set("amount_minor", result.amount_minor);
    out.set("currency", result.currency);
    out.set("result", result.approved ? "approved" : "declined");
    out.set("transaction_no", result.transaction_no);
    out.set("time", result.time);
    out.set("signature", gateway::base64url(signature.value()));
    answer(response, 200, out);
  }

  // What a reconciliation file holds: every order with its debit.
  void ledger(HTTPServerResponse& response) {
    Poco::JSON::Array::Ptr entries = new Poco::JSON::Array;
    {
      std::lock_guard lock(bank_.mutex);
      for (const auto& [order, debit] : bank_.orders)
        entries->add(Poco::JSON::Object::Ptr(new Poco::JSON::Object(LedgerFile::entry(order, debit))));
    }
    Poco::JSON::Object out;
    out.set("ledger", entries);
    answer(response, 200, out);
  }

  void control(const std::string& body, HTTPServerResponse& response) {
    Poco::JSON::Parser parser;
    auto in = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    std::lock_guard lock(bank_.mutex);
    if (in->has("delay_ms")) bank_.delay_ms = in->getValue<int>("delay_ms");
    if (in->has("fail_next")) bank_.fail_next = in->getValue<int>("fail_next");
    if (in->has("limit_minor")) bank_.limit = in->getValue<std::uint64_t>("limit_minor");
    if (in->has("sign_with_another_key")) {
      if (!in->getValue<bool>("sign_with_another_key")) {
        bank_.stranger.reset();
      } else if (auto stranger = suite::EcPrivateKey::generate(
                     [](std::size_t n) -> Result<Secret> { return Secret::copyOf(suite::randomBytes(n)); })) {
        bank_.stranger.emplace(std::move(stranger).value());
      }
    }
    if (auto list = in->getArray("decline_orders")) {
      for (std::size_t i = 0; i < list->size(); ++i)
        bank_.decline_orders.insert(list->getElement<std::string>(static_cast<unsigned>(i)));
    }
    Poco::JSON::Object out;
    out.set("ok", true);
    answer(response, 200, out);
  }

  Bank& bank_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Bank& bank) : bank_(bank) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new Handler(bank_); }

 private:
  Bank& bank_;
};

}  // namespace

SimApp::SimApp() { setUnixOptions(true); }

int runAcquirerSim(int argc, char** argv) {
  SimApp app;
  return runCommandLine(app, argc, argv, "mpay-acquirer-sim", kUsage);
}

void SimApp::defineOptions(Poco::Util::OptionSet& options) {
  auto take = Poco::Util::OptionCallback<SimApp>(this, &SimApp::takeOption);
  options.addOption(helpOption());
  options.addOption(Poco::Util::Option("port", "p", "port on 127.0.0.1").argument("N").callback(take));
  options.addOption(Poco::Util::Option("signing-key", "", "PEM P-256 key that signs every answer").argument("FILE").callback(take));
  options.addOption(Poco::Util::Option("make-identity", "", "development: write a new key to KEY and its "
                                       "self-signed certificate to CERT, then exit").argument("KEY:CERT").callback(take));
  options.addOption(Poco::Util::Option("limit", "l", "decline amounts above (minor units)").argument("N").callback(take));
  options.addOption(Poco::Util::Option("ledger", "", "reconciliation file (JSON lines)").argument("FILE").callback(take));
}

void SimApp::takeOption(const std::string& name, const std::string& value) {
  if (name == "port") port_ = Poco::NumberParser::parse(value);
  if (name == "limit") limit_ = Poco::NumberParser::parseUnsigned64(value);
  if (name == "ledger") ledger_ = value;
  if (name == "signing-key") signing_key_ = value;
  if (name == "make-identity") make_identity_ = value;
}

int SimApp::main(const std::vector<std::string>&) {
  log::setProcessName("mpay-acquirer-sim");
  if (!make_identity_.empty()) {
    const auto colon = make_identity_.find(':');
    if (colon == std::string::npos) return usageError("mpay-acquirer-sim", "--make-identity needs KEY:CERT", kUsage);
    auto made = suite::makeAcquirerIdentity(make_identity_.substr(0, colon), make_identity_.substr(colon + 1));
    if (!made.ok()) log::error("event=acquirer_sim_failed detail=\"" + made.error().detail + "\"");
    return made.ok() ? 0 : 1;
  }
  if (port_ <= 0 || signing_key_.empty())
    return usageError("mpay-acquirer-sim", "--port and --signing-key are required", kUsage);
  if (port_ > 65535) return usageError("mpay-acquirer-sim", "--port must be 1 to 65535", kUsage);
  Bank bank;
  bank.limit = limit_;
  auto key = suite::loadAcquirerKey(signing_key_);
  if (!key) {
    log::error("event=acquirer_sim_failed detail=\"" + key.error().detail + "\"");
    return 1;
  }
  bank.key.emplace(std::move(key).value());
  if (auto opened = bank.file.open(ledger_, bank.orders, bank.next_txn); !opened.ok()) {
    log::error("event=acquirer_sim_failed detail=\"" + opened.error().detail + "\"");
    return 1;
  }
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(8);
  Poco::Net::HTTPServer server(new Factory(bank),
                               Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_))),
                               params);
  server.start();
  log::info("event=acquirer_sim_started port=" + std::to_string(port_));
  waitForTerminationRequest();
  server.stopAll(true);
  return 0;
}

}  // namespace mpay::acquirer_sim
