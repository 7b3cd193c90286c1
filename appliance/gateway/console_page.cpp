#include "gateway/console_page.h"

#include <cstdio>
#include <ctime>
#include <sstream>

namespace mpay::gateway {
namespace {

std::string utc(std::int64_t t) {
  const std::time_t seconds = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
  return out;
}

std::string fixed(double value, int decimals) {
  char out[64];
  std::snprintf(out, sizeof out, "%.*f", decimals, value);
  return out;
}

// A health value as a labelled cell: the class colours it, the text says it.
std::string healthCell(const std::string& id, const std::string& value) {
  const bool good = value == "ok" || value == "healthy";
  const bool warn = value == "degraded";
  return "<td id=\"" + id + "\" class=\"" + (good ? "good" : warn ? "warn" : "bad") + "\">" + htmlEscape(value) +
         "</td>";
}

constexpr char kStyle[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;font-size:.9em}"
    "th{background:#eee}td{white-space:nowrap}td.num{text-align:right}"
    ".good{background:#d8f0d8}.warn{background:#fff2c0}.bad{background:#f6d0d0}"
    "code{font-size:.85em}";

}  // namespace

std::string htmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string renderConsolePage(const ConsoleView& v) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta http-equiv=\"refresh\" content=\"30\"><title>mpay console</title><style>" << kStyle
    << "</style></head><body>\n"
    << "<h1>mpay appliance</h1>\n<p>Version <span id=\"version\">" << htmlEscape(v.version)
    << "</span>; page made <span id=\"now\">" << utc(v.now) << "</span> UTC; read-only, refreshed every 30 s.</p>\n";

  h << "<h2>Health</h2>\n<table id=\"health\"><tr><th>signer</th><th>HSM</th><th>database</th></tr><tr>"
    << healthCell("health-signer", v.signer) << healthCell("health-hsm", v.hsm)
    << healthCell("health-database", v.database) << "</tr></table>\n";

  h << "<h2>Requests</h2>\n<p>Per second over the last <span id=\"rate-window\">" << fixed(v.rate_window_seconds, 0)
    << "</span> s; totals since the gateway started (the counters of <code>/metrics</code>).</p>\n"
    << "<table id=\"requests\"><tr><th>route</th><th>result</th><th>per second</th><th>total</th></tr>\n";
  for (const auto& r : v.requests)
    h << "<tr><td>" << htmlEscape(r.route) << "</td><td>" << htmlEscape(r.result) << "</td><td class=\"num\">"
      << fixed(r.per_second, 2) << "</td><td class=\"num\">" << fixed(r.total, 0) << "</td></tr>\n";
  if (v.requests.empty()) h << "<tr><td colspan=\"4\">no request answered yet</td></tr>\n";
  h << "</table>\n";

  h << "<h2>Orders waiting for an outcome</h2>\n<p><span id=\"open-orders-count\">" << v.open_orders.size()
    << "</span> open (the appliance completes them itself; <code>mpay-admin orders</code>).</p>\n";
  if (!v.orders_error.empty()) h << "<p class=\"bad\">" << htmlEscape(v.orders_error) << "</p>\n";
  h << "<table id=\"open-orders\"><tr><th>order</th><th>state</th><th>amount</th><th>acquirer</th><th>age (s)</th></tr>\n";
  for (const auto& o : v.open_orders)
    h << "<tr><td>" << htmlEscape(o.order_no) << "</td><td>" << htmlEscape(o.state) << "</td><td class=\"num\">"
      << htmlEscape(o.amount) << "</td><td>" << htmlEscape(o.acquirer_result) << "</td><td class=\"num\">"
      << o.age_seconds << "</td></tr>\n";
  h << "</table>\n";

  h << "<h2>Keys</h2>\n<p id=\"rotation\">" << htmlEscape(v.rotation) << "</p>\n"
    << "<table id=\"keys\"><tr><th>key</th><th>SHA-256 fingerprint</th><th>of</th></tr>\n";
  for (const auto& k : v.keys)
    h << "<tr><td>" << htmlEscape(k.name) << "</td><td><code>" << htmlEscape(k.sha256) << "</code></td><td>"
      << htmlEscape(k.source) << "</td></tr>\n";
  h << "</table>\n";

  h << "<h2>Latest audit records</h2>\n";
  if (!v.audit_error.empty()) h << "<p class=\"bad\" id=\"audit-error\">" << htmlEscape(v.audit_error) << "</p>\n";
  h << "<table id=\"audit\"><tr><th>seq</th><th>time (UTC)</th><th>role</th><th>operation</th><th>result</th>"
    << "<th>token keys</th><th>note</th></tr>\n";
  for (const auto& a : v.audit)
    h << "<tr><td class=\"num\">" << a.seq << "</td><td>" << utc(a.time) << "</td><td>" << htmlEscape(a.role)
      << "</td><td>" << htmlEscape(a.op) << "</td><td>" << htmlEscape(a.result) << "</td><td>" << htmlEscape(a.keys)
      << "</td><td>" << htmlEscape(a.note) << "</td></tr>\n";
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace mpay::gateway
