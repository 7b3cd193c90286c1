// mpay-acquirer-sim: a small acquirer front for development and tests.
//   POST /v1/authorize {"order_no","amount_minor","currency","content"}
//     -> {"result":"approved"|"declined","transaction_no"}; idempotent by order_no.
//   Rules: amount above the limit, or an order on the decline list, is declined.
//   POST /control {"delay_ms":N, "fail_next":N, "decline_orders":[...], "limit_minor":N}
//     changes behaviour: delay every answer, answer 500 to the next N calls.
//   GET /control -> {"calls":N,"authorizations":N} (distinct orders charged).
//   GET /ledger -> {"ledger":[...]}: every order and its debit; with --ledger FILE
//     the same entries as JSON lines, flushed before each answer, read back at start.
// Listens on 127.0.0.1 only.
#pragma once
#include <Poco/Util/ServerApplication.h>

namespace mpay::acquirer_sim {

class SimApp : public Poco::Util::ServerApplication {
 public:
  SimApp();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void takeOption(const std::string& name, const std::string& value);
  int port_ = 0;
  std::uint64_t limit_ = 0;
  std::string ledger_;
};

}  // namespace mpay::acquirer_sim
