#include "acquirer_sim/acquirer_sim.h"
#include "common/heap_tuning.h"

int main(int argc, char** argv) {
  mpay::keepFreedMemory();
  return mpay::acquirer_sim::runAcquirerSim(argc, argv);
}
