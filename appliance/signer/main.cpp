#include "signer/signer_app.h"

int main(int argc, char** argv) { return mpay::signer::runSigner(argc, argv); }
