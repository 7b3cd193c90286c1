#include "acquirer_sim/acquirer_sim.h"

int main(int argc, char** argv) {
  mpay::acquirer_sim::SimApp app;
  return app.run(argc, argv);
}
