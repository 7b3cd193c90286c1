#include "bench/bench_app.h"
#include "common/heap_tuning.h"

// The load generator keeps its memory as the appliance does, so that its
// own heap churn is not what the bench measures.
int main(int argc, char** argv) {
  mpay::keepFreedMemory();
  return mpay::bench::runBench(argc, argv);
}
