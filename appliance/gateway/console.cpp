#include "gateway/console.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/String.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "common/bytes.h"
#include "common/error_code.h"
#include "common/log.h"
#include "gateway/api_error.h"
#include "suite/primitives.h"

namespace mpay::gateway {
namespace {

constexpr std::size_t kMinToken = 32, kMaxToken = 4096;
constexpr int kOrdersShown = 50;
constexpr auto kRateWindow = std::chrono::seconds(60);
constexpr auto kPageLifetime = std::chrono::seconds(5);
constexpr auto kStalePageLimit = std::chrono::seconds(30);

std::array<unsigned char, 32> digestOf(const std::string& text) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
  return d;
}

std::string fingerprint(const Bytes& bytes) { return hexEncode(suite::sha256(bytes)); }

// " Protected by each generation: verifier key generation 1: 3 password,
// 3 pin; KEK generation 1: 3 identity, 2 session." (a rotation's old
// generation is retired once it protects nothing).
std::string keyGenerationCounts(Store& store, std::int64_t now) {
  auto counts = store.countKeyGenerations(now);
  if (!counts) return " Protected by each generation: unknown (the database did not answer).";
  std::map<std::pair<std::string, std::int64_t>, std::string> by_generation;
  for (const auto& c : counts.value()) {
    std::string& text = by_generation[{c.key, c.generation}];
    text += (text.empty() ? "" : ", ") + std::to_string(c.count) + " " + c.which;
  }
  std::string out = " Protected by each generation:";
  if (by_generation.empty()) return out + " nothing yet.";
  for (const auto& [key, text] : by_generation)
    out += std::string(key.first == "kek" ? " KEK" : " verifier key") + " generation " + std::to_string(key.second) +
           ": " + text + ";";
  out.back() = '.';
  return out;
}

// Minor units as stored: the console does not guess a currency's decimals.
std::string amountText(std::int64_t minor, const std::string& currency) {
  return std::to_string(minor) + " " + currency + " (minor units)";
}

// One line of audit_tail (a JSON summary of a record) as the console shows
// it; a line that does not parse is shown as such, not skipped.
ConsoleView::AuditRecord auditRecord(const std::string& line) {
  ConsoleView::AuditRecord r;
  try {
    Poco::JSON::Parser parser;
    auto body = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
    r.seq = body->getValue<std::uint64_t>("seq");
    r.role = body->optValue<std::string>("role", "");
    r.op = body->optValue<std::string>("op", "");
    r.result = body->optValue<std::string>("result", "");
    r.note = body->optValue<std::string>("note", "");
    if (auto keys = body->getArray("keys")) {
      for (unsigned i = 0; i < keys->size(); ++i) r.keys += (i ? "," : "") + keys->getElement<std::string>(i);
    }
    const std::string time = body->optValue<std::string>("time", "");
    std::tm tm{};
    if (strptime(time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) r.time = timegm(&tm);
  } catch (const Poco::Exception&) {
    r.op = "(unreadable record)";
  }
  return r;
}

}  // namespace

Result<ConsoleCredential> ConsoleCredential::load(const std::string& path) {
  // O_NONBLOCK: a FIFO planted at the path does not hang the start.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return fail(ErrorCode::kConfig, "cannot open gateway.console_token_file " + path);
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::kConfig, path + " is not a regular file");
  }
  if (st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO))) {
    ::close(fd);
    return fail(ErrorCode::kConfig, path + " must be the gateway user's own, mode 0600");
  }
  std::string token(kMaxToken + 1, '\0');
  const ssize_t n = ::read(fd, token.data(), token.size());
  ::close(fd);
  token.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  const bool fits = n >= 0 && token.size() >= kMinToken && token.size() <= kMaxToken;
  ConsoleCredential credential = fromToken(token);
  OPENSSL_cleanse(token.data(), token.size());
  if (!fits) return fail(ErrorCode::kConfig, path + " must hold a token of 32 to 4096 bytes (openssl rand -hex 32)");
  return credential;
}

ConsoleCredential ConsoleCredential::fromToken(const std::string& token) {
  ConsoleCredential c;
  c.digest_ = digestOf(token);
  return c;
}

bool ConsoleCredential::admits(const Poco::Net::HTTPServerRequest& request) const {
  if (!request.hasCredentials()) return false;
  std::string scheme, info, presented;
  try {
    request.getCredentials(scheme, info);
    if (Poco::icompare(scheme, "Bearer") == 0) {
      presented = info;
    } else if (Poco::icompare(scheme, "Basic") == 0) {
      presented = Poco::Net::HTTPBasicCredentials(request).getPassword();
    } else {
      return false;
    }
  } catch (const Poco::Exception&) {
    return false;
  }
  OPENSSL_cleanse(info.data(), info.size());
  if (presented.size() > kMaxToken) return false;
  const auto digest = digestOf(presented);
  OPENSSL_cleanse(presented.data(), presented.size());
  return CRYPTO_memcmp(digest.data(), digest_.data(), digest.size()) == 0;
}

Console::Console(ConsoleCredential credential, Engine& engine, SignerPool& signer, Store& store,
                 GatewayMetrics& metrics, std::function<std::int64_t()> now)
    : credential_(credential), engine_(engine), signer_(signer), store_(store), metrics_(metrics), now_(std::move(now)) {
  sample();
}

std::optional<std::string> Console::page() {
  const auto fresh = [this] {
    std::lock_guard lock(page_mutex_);
    return page_ && std::chrono::steady_clock::now() - page_made_ < kPageLifetime ? page_ : std::nullopt;
  };
  if (auto kept = fresh()) return kept;
  std::unique_lock making(making_, std::try_to_lock);
  if (!making.owns_lock()) {
    std::lock_guard lock(page_mutex_);
    if (page_ && std::chrono::steady_clock::now() - page_made_ < kStalePageLimit) return page_;
    return std::nullopt;
  }
  if (auto kept = fresh()) return kept;  // another thread finished one between the first check and try_lock
  std::string made = renderConsolePage(gather());
  std::lock_guard lock(page_mutex_);
  page_ = std::move(made);
  page_made_ = std::chrono::steady_clock::now();
  return page_;
}

void Console::refused(const std::string& source) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(refused_mutex_);
  ++refused_unlogged_;
  refused_last_source_ = source;
  if (now - refused_logged_ < std::chrono::seconds(1)) return;
  log::warn("event=console_denied last_source=" + source + " refusals=" + std::to_string(refused_unlogged_));
  refused_logged_ = now;
  refused_unlogged_ = 0;
}

void Console::flushRefusals() {
  std::lock_guard lock(refused_mutex_);
  if (refused_unlogged_ == 0) return;
  log::warn("event=console_denied last_source=" + refused_last_source_ +
            " refusals=" + std::to_string(refused_unlogged_));
  refused_logged_ = std::chrono::steady_clock::now();
  refused_unlogged_ = 0;
}

void Console::sample() {
  flushRefusals();
  Totals totals;
  for (const auto& c : metrics_.requestCounts()) totals[{c.route, c.result}] = c.total;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(samples_mutex_);
  samples_.emplace_back(now, std::move(totals));
  // Keep the newest sample at least a window old, and everything after it.
  while (samples_.size() >= 2 && now - samples_[1].first >= kRateWindow) samples_.pop_front();
}

ConsoleView Console::gather() {
  ConsoleView v;
  v.now = now_();
  v.version = MPAY_VERSION;

  // The audit records first: the console's own signer calls come after them.
  auto tail = signer_.call<wire::AuditTailResponse>([](SignerClient& c) { return c.auditTail(); });
  if (tail) {
    std::istringstream lines(std::string(tail->records.begin(), tail->records.end()));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) v.audit.insert(v.audit.begin(), auditRecord(line));
  } else {
    v.audit_error = "the signer did not give its audit records: " + std::string(errorName(tail.error().code));
  }

  auto health = signer_.call<wire::HealthResponse>([](SignerClient& c) { return c.health(); });
  static constexpr const char* kHsm[] = {"healthy", "degraded", "down"};
  if (health) {
    v.signer = "ok";
    v.hsm = kHsm[std::min<int>(health->state, 2)];
  } else {
    v.signer = errorName(health.error().code);
    v.hsm = "unknown (no signer)";
  }

  auto orders = store_.openOrders(kOrdersShown);
  if (orders) {
    v.database = "ok";
    for (const auto& o : orders.value())
      v.open_orders.push_back({o.row.order_no, o.row.state, amountText(o.row.amount_minor, o.row.currency),
                               o.row.acquirer_result.empty() ? "-" : o.row.acquirer_result,
                               std::max<std::int64_t>(0, v.now - o.created_at)});
  } else {
    v.database = std::string(apiErrorInfo(orders.error().code).name);
    v.orders_error = "the open orders could not be read: " + orders.error().message;
  }

  auto platform = engine_.platformInfo();
  if (platform) {
    const std::string generation = " generation " + std::to_string(platform->service_generation);
    v.keys.push_back({"service (ECDH P-256)" + generation, fingerprint(platform->service_point),
                      "uncompressed public point"});
    if (!platform->previous_service_point.empty())
      v.keys.push_back({"service (ECDH P-256) generation " + std::to_string(platform->previous_service_generation),
                        fingerprint(platform->previous_service_point),
                        "previous: accepted until " + std::to_string(platform->previous_service_until)});
    v.keys.push_back({"CA generation " + std::to_string(platform->ca_generation), fingerprint(platform->ca_cert),
                      "certificate (DER)"});
    v.keys.push_back({"receipt generation " + std::to_string(platform->receipt_generation),
                      fingerprint(platform->receipt_cert), "certificate (DER)"});
    v.rotation = "Service key at generation " + std::to_string(platform->service_generation) +
                 (platform->previous_service_point.empty()
                      ? "; no overlap in progress"
                      : "; generation " + std::to_string(platform->previous_service_generation) +
                            " still accepted until " + std::to_string(platform->previous_service_until) +
                            " (unix time)") +
                 "; receipt key at generation " + std::to_string(platform->receipt_generation) +
                 "; verifier key at generation " + std::to_string(platform->verifier_generation) +
                 "; KEK at generation " + std::to_string(platform->kek_generation) +
                 "; CA at generation " + std::to_string(platform->ca_generation) +
                 " (mpay-admin rotate service|receipt|verifier|kek|ca status shows a begun rotation)." +
                 keyGenerationCounts(store_, v.now);
  } else {
    v.rotation = "unknown: the signer did not answer platform_info";
  }

  {
    Totals now_totals;
    for (const auto& c : metrics_.requestCounts()) now_totals[{c.route, c.result}] = c.total;
    std::lock_guard lock(samples_mutex_);
    const auto& [then, then_totals] = samples_.front();
    const double seconds =
        std::max(1.0, std::chrono::duration<double>(std::chrono::steady_clock::now() - then).count());
    v.rate_window_seconds = seconds;
    for (const auto& [key, total] : now_totals) {
      auto before = then_totals.find(key);
      const double delta = total - (before == then_totals.end() ? 0 : before->second);
      v.requests.push_back({key.first, key.second, total, delta / seconds});
    }
  }

  return v;
}

}  // namespace mpay::gateway
