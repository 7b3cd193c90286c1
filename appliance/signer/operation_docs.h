// Markdown generated from the operation table and the error codes, so that
// docs/protocol.md cannot drift from the code: a test compares them, and
// `mpay-admin operations` prints them for a reviewer.
#pragma once
#include <string>

namespace mpay::signer {

std::string renderOperationTable();
std::string renderErrorCodes();

}  // namespace mpay::signer
