// Where Secret keeps its bytes: memory marked MADV_DONTDUMP, so a core dump
// (were one ever allowed: the processes forbid them, see sandbox::apply)
// leaves passwords, PINs and keys out. Small secrets share pooled chunks
// (madvise splits mappings, and one mapping per secret would soon exhaust
// vm.max_map_count); large ones get their own mapping. Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpay::secret_arena {

// Zero-filled; never null (an exhausted machine ends the process).
std::uint8_t* allocate(std::size_t size);
// The caller has wiped the bytes; `size` is what it asked allocate() for.
void release(std::uint8_t* p, std::size_t size);

}  // namespace mpay::secret_arena
