// Group commit: the threads that submit work at the same moment share one
// flush (one fdatasync, one database commit). The first thread to find no
// flush running leads: it takes every item queued by then and flushes them
// together while the others wait; each thread returns only once the flush
// that holds its own item is over, with whatever that flush wrote into the
// item. The leader takes the batch when `flush` asks for it, so items that
// arrive while it waits for a lock (an flock, say) still join.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace mpay {

template <typename Item>
class GroupCommit {
 public:
  // `flush(take)` must call take() once: it returns the batch (`item`
  // among it), and the flush must settle every item of it. Items are made
  // failed, so that a flush that throws leaves them failed; the leader's
  // call rethrows.
  template <typename Flush>
  void submit(Item& item, Flush&& flush) {
    Slot mine{&item};
    std::unique_lock lock(mutex_);
    waiting_.push_back(&mine);
    while (!mine.done) {
      if (leading_) {
        done_.wait(lock);
        continue;
      }
      leading_ = true;
      lock.unlock();
      std::vector<Slot*> taken;
      auto take = [&] {
        std::lock_guard hold(mutex_);
        taken.assign(waiting_.begin(), waiting_.end());
        waiting_.clear();
        std::vector<Item*> batch;
        for (Slot* s : taken) batch.push_back(s->item);
        return batch;
      };
      // An item the flush did not settle keeps what it was made with (its
      // failure): an exception fails the batch, it never hangs it.
      auto finish = [&] {
        lock.lock();
        for (Slot* s : taken) s->done = true;
        ++flushes_;
        leading_ = false;
        done_.notify_all();
      };
      try {
        flush(take);
      } catch (...) {
        finish();
        throw;
      }
      finish();
    }
  }

  std::uint64_t flushes() const {
    std::lock_guard lock(mutex_);
    return flushes_;
  }

 private:
  struct Slot {
    Item* item;
    bool done = false;
  };
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::deque<Slot*> waiting_;
  bool leading_ = false;
  std::uint64_t flushes_ = 0;
};

}  // namespace mpay
