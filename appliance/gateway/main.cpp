#include "common/heap_tuning.h"
#include "gateway/gateway_app.h"

int main(int argc, char** argv) {
  mpay::keepFreedMemory();
  return mpay::gateway::runGateway(argc, argv);
}
