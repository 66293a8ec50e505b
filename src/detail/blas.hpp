#pragma once
// Thin wrappers over OpenBLAS sgemm (row-major float32) for the rest of
// latent, and the one place that prepares OpenBLAS for it (prepare_blas):
//
// - Threads: latent runs its own OpenMP threads, so BLAS must stay
//   single-threaded inside them; callers parallelise over blocks.
// - Kernels: OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels
//   by CPU vendor and model when it loads, and on a model newer than its
//   table it falls back to old ones: Debian 12's 0.3.21 runs its Prescott
//   (SSE3) kernels on an Intel family 6 model 207, 3-7x slower than the
//   AVX-512 ones that CPU runs (bench/gemm_bench.py). latent chooses by the
//   CPU's instruction sets instead: when OpenBLAS's pick uses an older
//   instruction set than the CPU (and the OS) support, it re-initialises
//   OpenBLAS with the best kernels for them, through OpenBLAS's own
//   OPENBLAS_CORETYPE path (gotoblas_dynamic_quit/_init). A user's
//   OPENBLAS_CORETYPE is left as it is, and a BLAS without that path (not
//   OpenBLAS, or built for one CPU) is used as it comes.
//
// Leading dimensions are row strides in floats (>= the row length); pass the
// column count for a contiguous matrix. Dimensions may be 0.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace latent::detail {

// The BLAS kernels latent's dense products run on, and who chose them.
struct BlasKernels {
  std::string core;                // OpenBLAS's name of the kernels in use: "Cooperlake", ...
  std::string picked_by_openblas;  // what OpenBLAS picked by itself when it loaded
  std::string chosen_by;           // "OpenBLAS", "latent" or "OPENBLAS_CORETYPE"
};

// Prepares OpenBLAS once per process (its kernels, one thread): when latent
// is loaded, so later calls cost one atomic load. Every BLAS and LAPACK call
// in latent comes after one. Safe to call from several threads at once.
const BlasKernels& prepare_blas() noexcept;

// The instruction sets that matter here, as the CPU and the OS support them,
// by /proc/cpuinfo's names: avx512f, avx512bw, avx512_bf16, avx2, fma, ...
std::set<std::string> cpu_features();

// The widest instruction set an OpenBLAS core's kernels use: 3 AVX-512,
// 2 AVX2, 1 AVX, 0 SSE or unknown.
int openblas_core_level(std::string_view core);

// The best OpenBLAS core for a CPU with these features ("Cooperlake",
// "SkylakeX", "Haswell", "Sandybridge" or "Prescott").
std::string best_openblas_core(const std::set<std::string>& features);

// C = alpha * A * B^T + beta * C
//   a: m x k, row stride lda      (e.g. queries, or a batch of user embeddings)
//   b: n x k, row stride ldb      (e.g. items)
//   c: m x n, row stride ldc
void sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

// C = alpha * A * B + beta * C
//   a: m x k (lda), b: k x n (ldb), c: m x n (ldc)
void sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

// C = alpha * A^T * B + beta * C
//   a: k x m (lda), b: k x n (ldb), c: m x n (ldc)
void sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

}  // namespace latent::detail
