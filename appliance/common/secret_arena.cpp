#include "common/secret_arena.h"

#include <sys/mman.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace mpay::secret_arena {
namespace {

constexpr std::array<std::size_t, 4> kClasses = {64, 256, 1024, 4096};
constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kPage = 4096;

struct Arena {
  std::mutex mutex;
  std::array<std::vector<std::uint8_t*>, kClasses.size()> free;
};

Arena& arena() {
  static Arena* a = new Arena;  // never destroyed: secrets may be released during exit
  return *a;
}

std::uint8_t* mapDontDump(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  if (madvise(p, bytes, MADV_DONTDUMP) != 0) std::abort();
  return static_cast<std::uint8_t*>(p);
}

std::size_t classOf(std::size_t size) {
  for (std::size_t i = 0; i < kClasses.size(); ++i)
    if (size <= kClasses[i]) return i;
  return kClasses.size();
}

std::size_t roundToPages(std::size_t size) { return (size + kPage - 1) / kPage * kPage; }

}  // namespace

std::uint8_t* allocate(std::size_t size) {
  Arena& a = arena();
  const std::size_t c = classOf(size);
  std::lock_guard lock(a.mutex);
  if (c == kClasses.size()) {
    return mapDontDump(roundToPages(size));
  }
  auto& list = a.free[c];
  if (list.empty()) {
    std::uint8_t* chunk = mapDontDump(kChunk);
    for (std::size_t off = 0; off + kClasses[c] <= kChunk; off += kClasses[c]) list.push_back(chunk + off);
  }
  std::uint8_t* p = list.back();
  list.pop_back();
  std::memset(p, 0, kClasses[c]);
  return p;
}

void release(std::uint8_t* p, std::size_t size) {
  if (!p) return;
  Arena& a = arena();
  const std::size_t c = classOf(size);
  std::lock_guard lock(a.mutex);
  if (c == kClasses.size()) {
    munmap(p, roundToPages(size));
    return;
  }
  a.free[c].push_back(p);
}

}  // namespace mpay::secret_arena
