#pragma once
// What latent runs on: the CPU, the kernels of its dense products (OpenBLAS)
// and of its own hot loops, and its threads; `latent info --system` prints
// it. OpenBLAS picks its kernels by CPU model when it is loaded, and on a
// model newer than it knows (Debian 12's 0.3.21 on an Intel family 6 model
// 207, for one) it falls back to its oldest ones, several times slower
// (bench/gemm_bench.py measures it); latent then switches it to the kernels
// the CPU's instruction sets allow (src/detail/blas.hpp). `warnings` says
// when the kernels in use are still older than the CPU.

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace latent {

struct SystemInfo {
  std::string cpu;                // the CPU's model name
  std::vector<std::string> simd;  // the instruction sets that matter here: avx512f, avx2, ...
  std::string blas;               // the BLAS library and its build
  std::string blas_kernels;       // the kernels in use ("Prescott", "Haswell", "SkylakeX", ...)
  std::string
      blas_chosen_by;  // "OpenBLAS", "latent" (by the CPU's features) or "OPENBLAS_CORETYPE"
  std::string blas_openblas_pick;  // what OpenBLAS picked by itself when it loaded
  std::string latent_kernels;      // the clone of latent's own loops in use: avx512f, avx2, default
  int hardware_threads = 0;
  int default_threads = 0;  // what --threads 0 uses
  std::string openmp_wait;  // how waiting threads wait (include/latent/openmp_wait.hpp)
  std::vector<std::string> warnings;

  nlohmann::json to_json() const;
  // One line for logs and benchmarks: the kernels, who chose them, threads.
  std::string summary() const;
};

SystemInfo system_info();

// The warning for OpenBLAS kernels older than the CPU allows, or "" when
// they fit: `cpu_flags` as /proc/cpuinfo names them, `blas_kernels` as
// OpenBLAS names its core, `chosen_by` as in SystemInfo.
std::string blas_kernel_warning(const std::set<std::string>& cpu_flags,
                                const std::string& blas_kernels, const std::string& chosen_by);

}  // namespace latent
