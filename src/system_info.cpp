#include <latent/system_info.hpp>

#include <omp.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "detail/blas.hpp"

extern "C" {
// OpenBLAS's description of its build (cblas.h declares it too).
char* openblas_get_config(void);
}

namespace latent {

namespace {

// The "model name" line of /proc/cpuinfo's first CPU.
std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.rfind("model name", 0) != 0) continue;
    return colon + 2 <= line.size() ? line.substr(colon + 2) : "unknown";
  }
  return "unknown";
}

}  // namespace

std::string blas_kernel_warning(const std::set<std::string>& cpu_flags,
                                const std::string& blas_kernels, const std::string& chosen_by) {
  const std::string best = detail::best_openblas_core(cpu_flags);
  if (detail::openblas_core_level(blas_kernels) >= detail::openblas_core_level(best)) return "";
  const std::string slow =
      "dense products (training, exact search) run at a fraction of this CPU's speed "
      "(bench/gemm_bench.py measures it)";
  if (chosen_by == "OPENBLAS_CORETYPE") {
    return fmt::format(
        "OPENBLAS_CORETYPE in the environment holds OpenBLAS to its {} kernels on a CPU that runs "
        "{} kernels: {}. Without it latent chooses the {} kernels itself",
        blas_kernels, best, slow, best);
  }
  return fmt::format(
      "OpenBLAS runs its {} kernels on a CPU that runs {} kernels, and this OpenBLAS cannot "
      "switch them at run time (not a DYNAMIC_ARCH build): {}",
      blas_kernels, best, slow);
}

nlohmann::json SystemInfo::to_json() const {
  return {{"cpu", cpu},
          {"simd", simd},
          {"blas", blas},
          {"blas_kernels", blas_kernels},
          {"blas_chosen_by", blas_chosen_by},
          {"blas_openblas_pick", blas_openblas_pick},
          {"latent_kernels", latent_kernels},
          {"hardware_threads", hardware_threads},
          {"default_threads", default_threads},
          {"openmp_wait", openmp_wait},
          {"warnings", warnings}};
}

std::string SystemInfo::summary() const {
  std::string kernels = fmt::format("OpenBLAS {} kernels", blas_kernels);
  if (blas_chosen_by == "latent") {
    kernels += fmt::format(" (chosen by latent; OpenBLAS picked {})", blas_openblas_pick);
  } else if (blas_chosen_by == "OPENBLAS_CORETYPE") {
    kernels += " (OPENBLAS_CORETYPE)";
  }
  return fmt::format("{}, latent's loops {}, {} threads", kernels, latent_kernels, default_threads);
}

SystemInfo system_info() {
  SystemInfo s;
  s.cpu = cpu_model_name();
  const std::set<std::string> flags = detail::cpu_features();
  for (const char* f : {"avx512f", "avx512_bf16", "avx512_vnni", "avx2", "fma", "avx"}) {
    if (flags.contains(f)) s.simd.emplace_back(f);
  }
  const detail::BlasKernels& blas = detail::prepare_blas();
  const char* config = openblas_get_config();
  s.blas = config ? config : "OpenBLAS";
  s.blas_kernels = blas.core;
  s.blas_chosen_by = blas.chosen_by;
  s.blas_openblas_pick = blas.picked_by_openblas;
  // The order GCC's target_clones resolver tries (src/kernels.cpp, src/index.cpp).
  __builtin_cpu_init();
  s.latent_kernels = __builtin_cpu_supports("avx512f") ? "avx512f"
                     : __builtin_cpu_supports("avx2")  ? "avx2"
                                                       : "default";
  s.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  s.default_threads = omp_get_max_threads();
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spins = std::getenv("GOMP_SPINCOUNT");
  s.openmp_wait = policy  ? fmt::format("OMP_WAIT_POLICY={}", policy)
                  : spins ? fmt::format("spin {} times, then sleep (GOMP_SPINCOUNT)", spins)
                          : "libgomp's default (spin about 300,000 times, then sleep)";
  if (policy && spins) s.openmp_wait += fmt::format(", GOMP_SPINCOUNT={}", spins);
  if (auto w = blas_kernel_warning(flags, s.blas_kernels, s.blas_chosen_by); !w.empty()) {
    s.warnings.push_back(w);
  }
  return s;
}

}  // namespace latent
