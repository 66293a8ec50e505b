#include "detail/blas.hpp"

#include <dlfcn.h>

#include <array>
#include <cassert>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <utility>
#include <vector>

#include <cblas.h>

namespace latent::detail {

namespace {

// OpenBLAS's x86-64 kernel families by the widest instruction set they use,
// and what each needs of the CPU. AMD's own families count at the level
// OpenBLAS gives them: latent never moves a CPU OpenBLAS knows to another
// vendor's kernels, only an unknown one off kernels older than it.
struct Core {
  std::string_view name;  // as openblas_get_corename() and OPENBLAS_CORETYPE spell it
  int level;
  std::array<std::string_view, 6> needs;  // /proc/cpuinfo names; none: never chosen by latent
};
constexpr std::array kCores{
    Core{"Cooperlake",
         3,
         {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"}},
    Core{"SkylakeX", 3, {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"}},
    Core{"SapphireRapids", 3, {}},  // picked by newer OpenBLAS only; never chosen here
    Core{"Haswell", 2, {"avx2", "fma"}},
    Core{"Zen", 2, {}},
    Core{"Excavator", 2, {}},
    Core{"Steamroller", 2, {}},
    Core{"Sandybridge", 1, {"avx"}},
    Core{"Bulldozer", 1, {}},
    Core{"Piledriver", 1, {}},
    Core{"Prescott", 0, {"sse3"}},
};

bool runs_on(const Core& core, const std::set<std::string>& features) {
  if (core.needs[0].empty()) return false;
  for (std::string_view need : core.needs) {
    if (!need.empty() && !features.contains(std::string(need))) return false;
  }
  return true;
}

// The cores these features run, best first, that latent would choose.
std::vector<std::string_view> cores_for(const std::set<std::string>& features) {
  std::vector<std::string_view> out;
  for (const Core& core : kCores) {
    if (runs_on(core, features)) out.push_back(core.name);
  }
  return out;
}

// OpenBLAS's own entry points for choosing its kernels, looked up in the
// library that holds cblas_sgemm (not the global scope: under Python the
// library is a dependency of a module loaded with RTLD_LOCAL).
struct OpenBlasDynamic {
  void* library = nullptr;
  void (*quit)() = nullptr;
  void (*init)() = nullptr;
  int (*stop_threads)() = nullptr;

  OpenBlasDynamic() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cblas_sgemm), &info) == 0 || !info.dli_fname) return;
    library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!library) return;
    quit = reinterpret_cast<void (*)()>(dlsym(library, "gotoblas_dynamic_quit"));
    init = reinterpret_cast<void (*)()>(dlsym(library, "gotoblas_dynamic_init"));
    stop_threads = reinterpret_cast<int (*)()>(dlsym(library, "blas_thread_shutdown_"));
  }
  ~OpenBlasDynamic() {
    if (library) dlclose(library);
  }
  OpenBlasDynamic(const OpenBlasDynamic&) = delete;
  OpenBlasDynamic& operator=(const OpenBlasDynamic&) = delete;

  bool has(std::string_view core) const {
    if (!library || !quit || !init || !stop_threads) return false;
    std::string table = "gotoblas_";
    for (char c : core) table += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return dlsym(library, table.c_str()) != nullptr;
  }

  // OpenBLAS re-initialised on `core` through its OPENBLAS_CORETYPE path;
  // the variable is set only for that call. Runs before latent's first
  // product, with no BLAS call of latent's in flight. OpenBLAS's worker
  // threads are stopped (and joined) first, as its fork handler does: a
  // worker that is still starting runs gotoblas_dynamic_init itself, and
  // meeting ours it called through a kernel table quit() had emptied (a
  // crash at load, about once in 80 starts on a busy machine). OpenBLAS
  // starts them again when a product needs them.
  void switch_to(std::string_view core) const {
    stop_threads();
    quit();
    setenv("OPENBLAS_CORETYPE", std::string(core).c_str(), 1);
    init();
    unsetenv("OPENBLAS_CORETYPE");
  }
};

std::string current_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

BlasKernels choose_kernels() {
  BlasKernels k;
  k.core = k.picked_by_openblas = current_core();
  k.chosen_by = "OpenBLAS";
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"); forced && *forced) {
    k.chosen_by = "OPENBLAS_CORETYPE";
    return k;
  }
  const OpenBlasDynamic openblas;
  for (std::string_view better : cores_for(cpu_features())) {
    if (openblas_core_level(better) <= openblas_core_level(k.core)) break;
    if (!openblas.has(better)) continue;
    openblas.switch_to(better);
    k.core = current_core();
    k.chosen_by = "latent";
    break;
  }
  return k;
}

// OpenBLAS (non-ILP64 build) takes int dimensions; a larger block is a bug
// in the caller's blocking, not a user error.
[[maybe_unused]] bool fits(std::int64_t v) { return v >= 0 && v <= INT_MAX; }

// C = beta * C for the cases BLAS rejects (k == 0 needs no product, and
// reference BLAS requires lda >= 1 which a 0-column matrix cannot give).
void scale_only(std::int64_t m, std::int64_t n, float* c, std::int64_t ldc, float beta) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (std::int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t m, std::int64_t n, std::int64_t k,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
          std::int64_t ldc, float alpha, float beta) {
  assert(fits(m) && fits(n) && fits(k) && fits(lda) && fits(ldb) && fits(ldc));
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_only(m, n, c, ldc, beta);
    return;
  }
  prepare_blas();
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

}  // namespace

std::set<std::string> cpu_features() {
  __builtin_cpu_init();
  std::set<std::string> f;
  const auto add = [&f](int has, const char* name) {
    if (has) f.emplace(name);
  };
  // __builtin_cpu_supports also asks the OS (XGETBV) whether it saves the
  // registers, so a feature listed here is one latent may use.
  add(__builtin_cpu_supports("sse3"), "sse3");
  add(__builtin_cpu_supports("avx"), "avx");
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vl"), "avx512vl");
  add(__builtin_cpu_supports("avx512dq"), "avx512dq");
  add(__builtin_cpu_supports("avx512cd"), "avx512cd");
  add(__builtin_cpu_supports("avx512vnni"), "avx512_vnni");
  add(__builtin_cpu_supports("avx512bf16"), "avx512_bf16");
  return f;
}

int openblas_core_level(std::string_view core) {
  for (const Core& c : kCores) {
    if (c.name == core) return c.level;
  }
  return 0;
}

std::string best_openblas_core(const std::set<std::string>& features) {
  const auto cores = cores_for(features);
  return cores.empty() ? "Prescott" : std::string(cores.front());
}

const BlasKernels& prepare_blas() noexcept {
  static const BlasKernels kernels = [] {
    BlasKernels k = choose_kernels();
    openblas_set_num_threads(1);
    return k;
  }();
  return kernels;
}

namespace {
// Prepared when latent is loaded, before the program (or the Python module
// that loads latent) starts threads of its own: setenv is not safe beside
// other threads reading the environment.
[[maybe_unused]] const BlasKernels& prepared_at_load = prepare_blas();
}  // namespace

void sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasNoTrans, CblasTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

void sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasNoTrans, CblasNoTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

void sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasTrans, CblasNoTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

}  // namespace latent::detail
