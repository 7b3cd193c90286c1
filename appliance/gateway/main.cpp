#include "gateway/gateway_app.h"

int main(int argc, char** argv) { return mpay::gateway::runGateway(argc, argv); }
