// A fuzz target: LLVMFuzzerTestOneInput, run by libFuzzer in the clang build
// (MPAY_FUZZ=ON, scripts/test) and by replay_main.cpp over the seed corpus in
// every other test build. A broken property aborts with its reason, so both
// report it as a failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#define MPAY_FUZZ_CHECK(condition)                                              \
  do {                                                                          \
    if (!(condition)) {                                                         \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, \
                   #condition);                                                 \
      std::abort();                                                             \
    }                                                                           \
  } while (0)
