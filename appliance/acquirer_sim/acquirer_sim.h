// mpay-acquirer-sim: a small acquirer front for development and tests.
//   POST /v1/authorize {"order_no","phone","amount_minor","currency","content"}
//     -> {"order_no","phone","amount_minor","currency","result":"approved"|"declined","transaction_no","time",
//         "signature"}: ECDSA P-256 with --signing-key over suite::acquirerAnswerBytes (base64url DER);
//        idempotent by order_no (the same answer, time and all).
//   Rules: amount above the limit, or an order on the decline list, is declined.
//   POST /control {"delay_ms":N, "fail_next":N, "decline_orders":[...], "limit_minor":N,
//                  "sign_with_another_key":bool}
//     changes behaviour: delay every answer, answer 500 to the next N calls,
//     sign with a key nobody pinned (a forged front) until set false again.
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
  std::string signing_key_;
  std::string make_identity_;
};

// Parses the command line (--help, usage errors exit 2) and runs the simulator.
int runAcquirerSim(int argc, char** argv);

}  // namespace mpay::acquirer_sim
