#include "support/together.h"

#include <latch>
#include <thread>

namespace mpay::test {

std::vector<HttpAnswer> postTogether(const RunningAppliance& app, const std::string& path,
                                     const std::vector<std::string>& bodies) {
  return postTogetherAcross({&app}, path, bodies);
}

std::vector<HttpAnswer> postTogetherAcross(const std::vector<const RunningAppliance*>& apps, const std::string& path,
                                           const std::vector<std::string>& bodies) {
  std::latch go(static_cast<std::ptrdiff_t>(bodies.size()));
  std::vector<HttpAnswer> answers(bodies.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < bodies.size(); ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      answers[i] = apps[i % apps.size()]->post(path, bodies[i]);
    });
  for (auto& t : threads) t.join();
  return answers;
}

std::map<std::string, int> countErrors(const std::vector<HttpAnswer>& answers) {
  std::map<std::string, int> out;
  for (const auto& a : answers) ++out[a.status == 200 ? "ok" : jsonField(a.body, "error")];
  return out;
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [code, n] : counts) out += code + "=" + std::to_string(n) + " ";
  return out;
}

}  // namespace mpay::test
