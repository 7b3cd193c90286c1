#include "bench/bench_app.h"

int main(int argc, char** argv) { return mpay::bench::runBench(argc, argv); }
