#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace mpay::log {
namespace {
std::string g_process = "mpay";
std::mutex g_mutex;

void emit(std::string_view level, std::string_view message) {
  std::timespec ts{};
  std::timespec_get(&ts, TIME_UTC);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s %s[%d] %.*s %.*s\n", when, g_process.c_str(), static_cast<int>(getpid()),
               static_cast<int>(level.size()), level.data(), static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
}
}  // namespace

void setProcessName(std::string_view name) { g_process = std::string(name); }
void info(std::string_view message) { emit("info", message); }
void warn(std::string_view message) { emit("warn", message); }
void error(std::string_view message) { emit("error", message); }

}  // namespace mpay::log
