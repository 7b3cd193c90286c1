// PKCS#11 through p11-kit's header, plus the error mapping used by all of hsm/.
#pragma once
#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace mpay::hsm {

std::string_view rvName(CK_RV rv);

// A token error: kHsmUnavailable when the device or session is gone (the
// caller may recover), kInternal otherwise. The CK_RV is kept for the log.
Error ckError(CK_RV rv, std::string_view what);

// Session lost: reopen the session (and log in again).
bool isSessionLost(CK_RV rv);
// Module or device lost: finalize and initialize the module again.
bool isDeviceLost(CK_RV rv);

}  // namespace mpay::hsm
