#include <latent/openmp_wait.hpp>

#include <unistd.h>

#include <cstdlib>

namespace latent {

void wait_for_work_passively(char** argv) noexcept {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (setenv("GOMP_SPINCOUNT", kSpinCount, 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // Still here: no /proc, or the file is gone. Run on with the defaults;
  // the variable stays set for child processes, which is what we want.
}

}  // namespace latent
