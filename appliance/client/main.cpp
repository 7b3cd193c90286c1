#include "client/client_app.h"

int main(int argc, char** argv) { return mpay::client::runClient(argc, argv); }
