#include <latent/system_info.hpp>

#include <omp.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

extern "C" {
// OpenBLAS's own queries (cblas.h declares them; only these two are used).
char* openblas_get_corename(void);
char* openblas_get_config(void);
}

namespace latent {

namespace {

// 3: AVX-512, 2: AVX2, 1: AVX, 0: SSE only.
int cpu_level(const std::set<std::string>& flags) {
  if (flags.contains("avx512f")) return 3;
  if (flags.contains("avx2")) return 2;
  if (flags.contains("avx")) return 1;
  return 0;
}

int kernel_level(const std::string& core) {
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"}) {
    if (core == name) return 3;
  }
  for (const char* name : {"Haswell", "Zen", "Excavator", "Steamroller"}) {
    if (core == name) return 2;
  }
  for (const char* name : {"Sandybridge", "Bulldozer", "Piledriver"}) {
    if (core == name) return 1;
  }
  return 0;
}

// The best OpenBLAS core type for these flags.
const char* best_core(const std::set<std::string>& flags) {
  if (flags.contains("avx512_bf16")) return "Cooperlake";
  if (flags.contains("avx512f")) return "SkylakeX";
  if (flags.contains("avx2")) return "Haswell";
  if (flags.contains("avx")) return "Sandybridge";
  return "Prescott";
}

// The "model name" and "flags" lines of /proc/cpuinfo's first CPU.
std::pair<std::string, std::set<std::string>> read_cpuinfo() {
  std::ifstream in("/proc/cpuinfo");
  std::string model;
  std::set<std::string> flags;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && model.empty()) model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
    }
    if (!model.empty() && !flags.empty()) break;
  }
  return {model.empty() ? "unknown" : model, flags};
}

}  // namespace

std::string blas_kernel_warning(const std::set<std::string>& cpu_flags,
                                const std::string& blas_kernels) {
  if (kernel_level(blas_kernels) >= cpu_level(cpu_flags)) return "";
  const char* best = best_core(cpu_flags);
  return fmt::format(
      "OpenBLAS chose its {} kernels on a CPU that runs {} kernels: dense products (training, "
      "exact search) run at a fraction of this CPU's speed (bench/gemm_bench.py measures it). "
      "Starting latent with OPENBLAS_CORETYPE={} in the environment works around it",
      blas_kernels, best, best);
}

nlohmann::json SystemInfo::to_json() const {
  return {{"cpu", cpu},
          {"simd", simd},
          {"blas", blas},
          {"blas_kernels", blas_kernels},
          {"latent_kernels", latent_kernels},
          {"hardware_threads", hardware_threads},
          {"default_threads", default_threads},
          {"openmp_wait", openmp_wait},
          {"warnings", warnings}};
}

SystemInfo system_info() {
  SystemInfo s;
  const auto [model, flags] = read_cpuinfo();
  s.cpu = model;
  for (const char* f : {"avx512f", "avx512_bf16", "avx512_vnni", "avx2", "fma", "avx"}) {
    if (flags.contains(f)) s.simd.emplace_back(f);
  }
  const char* config = openblas_get_config();
  const char* core = openblas_get_corename();
  s.blas = config ? config : "OpenBLAS";
  s.blas_kernels = core ? core : "unknown";
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
  if (auto w = blas_kernel_warning(flags, s.blas_kernels); !w.empty()) s.warnings.push_back(w);
  return s;
}

}  // namespace latent
