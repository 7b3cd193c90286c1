#include "admin/admin_app.h"

int main(int argc, char** argv) { return mpay::admin::runAdmin(argc, argv); }
