#include "common/heap_tuning.h"
#include "signer/signer_app.h"

int main(int argc, char** argv) {
  mpay::keepFreedMemory();
  return mpay::signer::runSigner(argc, argv);
}
