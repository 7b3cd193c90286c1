#include "acquirer_sim/acquirer_sim.h"
#include "common/heap_tuning.h"

int main(int argc, char** argv) {
  mpay::keepFreedMemory();
  mpay::acquirer_sim::SimApp app;
  return app.run(argc, argv);
}
