// latent_bench_gemm_path: GFLOP/s of latent's own GEMM path (src/blas.cpp:
// OpenBLAS prepared by latent, one thread) at shapes given on stdin, for
// bench/gemm_bench.py, which runs it beside OpenBLAS loaded plainly and
// forced to a core type. Input: a JSON list of [name, m, n, k, transpose A,
// transpose B]; output: {"core": ..., "chosen_by": ..., "gflops": {name: GFLOP/s}}.
// Each figure is the best of repeated calls lasting at least 0.3 s, as the
// Python side measures.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "detail/blas.hpp"

int main() {
  namespace d = latent::detail;
  const auto shapes = nlohmann::json::parse(std::cin);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  nlohmann::json gflops = nlohmann::json::object();
  for (const auto& s : shapes) {
    const std::string name = s[0];
    const std::int64_t m = s[1], n = s[2], k = s[3];
    const bool ta = s[4], tb = s[5];
    std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(n * k));
    std::vector<float> c(static_cast<size_t>(m * n));
    for (auto& v : a) v = normal(rng);
    for (auto& v : b) v = normal(rng);
    const auto call = [&] {
      if (ta && !tb) {
        d::sgemm_tn(m, n, k, a.data(), m, b.data(), n, c.data(), n);
      } else if (!ta && tb) {
        d::sgemm_nt(m, n, k, a.data(), k, b.data(), k, c.data(), n);
      } else if (!ta && !tb) {
        d::sgemm_nn(m, n, k, a.data(), k, b.data(), n, c.data(), n);
      } else {
        throw std::invalid_argument("latent has no A^T B^T product: " + name);
      }
    };
    call();  // warm-up
    double best = 1e30, spent = 0;
    while (spent < 0.3) {
      const auto t = std::chrono::steady_clock::now();
      call();
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      best = std::min(best, dt);
      spent += dt;
    }
    gflops[name] =
        2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / best / 1e9;
  }
  const d::BlasKernels& kernels = d::prepare_blas();
  std::cout << nlohmann::json{{"core", kernels.core},
                              {"chosen_by", kernels.chosen_by},
                              {"gflops", gflops}}
                   .dump()
            << "\n";
}
