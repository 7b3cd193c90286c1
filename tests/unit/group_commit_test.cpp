// The group commit under the audit log and the SQLite store: concurrent
// submitters share flushes, each returns with its own item settled, and a
// flush that throws fails its batch instead of hanging it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/group_commit.h"

namespace mpay {
namespace {

struct Item {
  int value = 0;
  bool written = false;
};

TEST(GroupCommit, EveryItemIsSettledByTheFlushThatTookIt) {
  GroupCommit<Item> group;
  constexpr int kThreads = 8, kEach = 200;
  std::atomic<int> flushed{0};
  std::vector<std::thread> threads;
  std::atomic<bool> all_written{true};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Item item{i};
        group.submit(item, [&](auto take) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));  // a flush takes time: others queue
          for (Item* it : take()) {
            it->written = true;
            ++flushed;
          }
        });
        if (!item.written) all_written = false;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(all_written);
  EXPECT_EQ(flushed.load(), kThreads * kEach);
  EXPECT_LT(group.flushes(), static_cast<std::uint64_t>(kThreads * kEach)) << "no two items ever shared a flush";
}

TEST(GroupCommit, AFlushThatThrowsFailsItsBatchAndTheNextOneWorks) {
  GroupCommit<Item> group;
  Item first{1};
  EXPECT_THROW(group.submit(first, [&](auto take) {
    (void)take();
    throw std::runtime_error("disk gone");
  }),
               std::runtime_error);
  EXPECT_FALSE(first.written);
  Item second{2};
  group.submit(second, [&](auto take) {
    for (Item* it : take()) it->written = true;
  });
  EXPECT_TRUE(second.written) << "the group still leads after a failed flush";
}

}  // namespace
}  // namespace mpay
