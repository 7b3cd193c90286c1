#include "admin/signer_state_admin.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/identity.h"
#include "signer/signer_state.h"

namespace mpay::admin {

Result<std::string> newSignerState(const Config& config) {
  const std::string& path = config.signer.state_file;
  struct stat existing{};
  if (::stat(path.c_str(), &existing) == 0 && existing.st_size > 0)
    return fail(ErrorCode::kConfig, path + " exists: stop the signer and move it aside first");
  MPAY_ASSIGN_OR_RETURN(auto limits, signer::SignerLimits::load(config.policy_dir + "/signer.limits"));
  MPAY_ASSIGN_OR_RETURN(auto state, signer::SignerState::open(path, limits));
  if (geteuid() == 0) {
    MPAY_ASSIGN_OR_RETURN(Account signer, lookupAccount(config.signer.user));
    if (::chown(path.c_str(), signer.uid, signer.gid) != 0) return fail(ErrorCode::kIo, "cannot hand " + path + " to " + signer.name);
  }
  return "signer state made: " + path + " epoch " + hexEncode(state->epoch()) +
         " (permits of the old state are refused; users log in again)\n";
}

}  // namespace mpay::admin
