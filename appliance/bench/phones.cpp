#include "bench/phones.h"

#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include "suite/certificate_file.h"

namespace mpay::bench {
namespace {

// The newest confirmation code the development notifier wrote for `phone`.
std::string confirmationCode(const std::string& outbox, const std::string& phone) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::ifstream in(outbox);
    std::string line, code;
    while (std::getline(in, line)) {
      try {
        auto o = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
        if (o->optValue<std::string>("phone", "") == phone) code = o->optValue<std::string>("code", "");
      } catch (const Poco::Exception&) {
      }
    }
    if (!code.empty()) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

}  // namespace

std::optional<client::ApiFailure> enrol(client::ApiClient& api, const client::PlatformData& platform, const std::string& outbox,
                                        Phone& phone) {
  const std::string imei = "35693803564380", sim = "8986001234567890123";
  suite::Info1 info{phone.number, imei, sim, Secret::copyOf(kPassword), Secret::copyOf(kPin), "Bench User", "BENCH1"};
  auto code = client::registerPhone(api, platform, info);
  if (!code) return code.error();
  const std::string confirmation = confirmationCode(outbox, phone.number);
  if (confirmation.empty()) return client::localFailure("no confirmation code in " + outbox);
  auto p12 = client::activatePhone(api, phone.number, code.value(), confirmation);
  if (!p12) return p12.error();
  auto opened = suite::openCertificateFile(p12.value(), suite::info3Password(phone.number, imei, sim, Secret::copyOf(kPassword)));
  if (!opened) return client::localFailure("the certificate file does not open: " + opened.error().detail);
  phone.key = std::move(opened->private_key);
  return std::nullopt;
}

std::uint64_t unixNow() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// Numbers unique to this run, so a second run against the same appliance enrols new phones.
std::vector<Phone> newPhones(std::size_t count, const std::string& run) {
  std::vector<Phone> phones(count);
  for (std::size_t i = 0; i < phones.size(); ++i) {
    std::string index = std::to_string(i);
    phones[i].number = "+86139" + run + std::string(4 - std::min<std::size_t>(4, index.size()), '0') + index;
  }
  return phones;
}

std::optional<client::ApiFailure> payOnce(client::ApiClient& api, const client::PlatformData& platform, Phone& phone,
                                          const std::string& order_no, std::uint64_t n) {
  client::PaymentInput in;
  in.order_no = order_no;
  in.phone = phone.number;
  in.amount_minor = 100 + n % 9900;
  in.currency = "CNY";
  in.content = "mpay-bench " + in.order_no;
  in.counter = ++phone.session->counter;
  in.timestamp = unixNow();
  auto receipt = client::pay(api, platform, in, Secret::copyOf(kPin), phone.session->keys, *phone.key);
  if (!receipt) return receipt.error();
  if (receipt->result != suite::PaymentResult::kApproved) return client::localFailure("declined by the acquirer");
  return std::nullopt;
}

std::optional<EnrolledPhones> enrolNewPhones(const LoadOptions& o, std::size_t count) {
  client::ApiClient api(o.server, o.ca);
  auto platform = client::fetchPlatform(api);
  if (!platform) return std::nullopt;
  EnrolledPhones out{std::move(platform).value(), newRunTag(), {}};
  out.phones = newPhones(count, out.tag);
  for (auto& phone : out.phones)
    if (enrol(api, out.platform, o.outbox, phone)) return std::nullopt;
  return out;
}

std::string newRunTag() {
  std::mt19937_64 rng(std::random_device{}());
  return std::to_string(10000 + rng() % 90000);
}

}  // namespace mpay::bench
