// The bench's phones: numbers unique to a run, enrolled through the real API
// (the development notifier's outbox gives the confirmation codes), each
// with its key and, once logged in, its session.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/load.h"
#include "client/flows.h"

namespace mpay::bench {

inline constexpr char kPassword[] = "bench password 1";
inline constexpr char kPin[] = "135790";

struct Phone {
  std::string number;
  std::optional<suite::EcPrivateKey> key;  // opened once from the certificate file
  std::optional<client::CachedSession> session;
};

// `count` numbers that no earlier run used (`run` is this run's random tag).
std::vector<Phone> newPhones(std::size_t count, const std::string& run);
// A random tag for this run's numbers and orders.
std::string newRunTag();
// Register, activate and confirm `phone`; its key is set when this returns no failure.
std::optional<client::ApiFailure> enrol(client::ApiClient& api, const client::PlatformData& platform,
                                        const std::string& outbox, Phone& phone);
std::uint64_t unixNow();

// The platform's data and `count` new phones enrolled on it (numbers tagged
// for this run); nothing when the platform or any enrolment fails.
struct EnrolledPhones {
  client::PlatformData platform;
  std::string tag;
  std::vector<Phone> phones;
};
std::optional<EnrolledPhones> enrolNewPhones(const LoadOptions& options, std::size_t count);
// One payment of 1.00-99.99 CNY (by `n`) for `order_no` on the phone's session; the
// receipt is checked as mpay-client checks it, and must be approved.
std::optional<client::ApiFailure> payOnce(client::ApiClient& api, const client::PlatformData& platform, Phone& phone,
                                          const std::string& order_no, std::uint64_t n);

}  // namespace mpay::bench
