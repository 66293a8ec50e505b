#include <latent/bpr.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>

#include <fmt/format.h>
#include <omp.h>

#include <latent/error.hpp>
#include <latent/initial_vectors.hpp>
#include <latent/random.hpp>

#include "detail/bpr_sampler.hpp"
#include "detail/parallel.hpp"
#include "detail/require.hpp"

// One clone of the sampling loop per x86-64 level, picked at load time (as
// in kernels.cpp): the factor updates are short vector loops; on the
// MovieLens-20M shape an epoch took 0.56 s with the AVX-512 clone and 0.76 s
// with the SSE2 baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LATENT_BPR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LATENT_BPR_CLONES
#endif

namespace latent {

namespace {

using detail::require;

}  // namespace

void BprConfig::validate() const {
  require(dim >= 1 && dim <= 4096, fmt::format("dim {} is outside [1, 4096]", dim));
  require(std::isfinite(learning_rate) && learning_rate > 0,
          fmt::format("learning rate {} must be a positive number", learning_rate));
  require(std::isfinite(regularization) && regularization >= 0,
          fmt::format("regularization {} must be a number >= 0", regularization));
  require(epochs >= 1, fmt::format("epochs {} must be >= 1", epochs));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
}

nlohmann::json BprConfig::to_json() const {
  return {{"dim", dim},
          {"learning_rate", learning_rate},
          {"regularization", regularization},
          {"epochs", epochs},
          {"seed", seed}};
}

namespace {

using Clock = std::chrono::steady_clock;

// rows x stride floats, zero-filled, every row 64-byte aligned (stride is a
// multiple of 16), so a factor row spans whole cache lines.
class AlignedTable {
 public:
  AlignedTable(std::int64_t rows, std::int64_t stride) : stride_(stride) {
    const auto bytes = static_cast<std::size_t>(std::max<std::int64_t>(rows * stride, 16)) * 4;
    data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!data_) throw std::bad_alloc();
    std::fill_n(data_.get(), bytes / 4, 0.0f);
  }
  float* row(std::int64_t r) noexcept { return data_.get() + r * stride_; }
  const float* row(std::int64_t r) const noexcept { return data_.get() + r * stride_; }
  float* data() noexcept { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const noexcept { std::free(p); }
  };
  std::int64_t stride_;
  std::unique_ptr<float[], Free> data_;
};

// Whether a user has an item, answered exactly and, for the common answer
// "no", with one cache line: a split-block Bloom filter (Impala/Parquet
// style: 8 words per 64-byte block, one bit set per word; ~16 bits per pair,
// a fraction of a percent false positives) in front of a binary search of
// the user's sorted CSR row. A binary search alone costs ~10 dependent cache
// misses per heavy user's row and was 80% of an epoch on 20M-shaped data.
class NegativeSampler {
 public:
  explicit NegativeSampler(const CsrMatrix& pairs)
      : pairs_(pairs),
        num_items_(pairs.cols()),
        blocks_(static_cast<std::size_t>(std::max<std::int64_t>(1, pairs.nnz() / 32 + 1))) {
    for (std::int32_t u = 0; u < pairs.rows(); ++u) {
      for (auto i : pairs.row(u)) {
        const std::uint64_t h = hash(u, i);
        const std::uint64_t bits = bit_hash(h);
        Block& b = block(h);
        for (int w = 0; w < 8; ++w) b.words[w] |= std::uint64_t{1} << ((bits >> (6 * w)) & 63);
      }
    }
  }

  // What has(user, item) reads first, to prefetch. (GCC's pure-const
  // analysis finds a function that only prefetches "const" and drops calls
  // to it, so callers issue their prefetches themselves.)
  const void* block_of(std::int32_t user, std::int32_t item) const noexcept {
    return &block(hash(user, item));
  }

  bool has(std::int32_t user, std::int32_t item) const noexcept {
    const std::uint64_t h = hash(user, item);
    const std::uint64_t bits = bit_hash(h);
    const Block& b = block(h);
    std::uint64_t all = ~std::uint64_t{0};
    for (int w = 0; w < 8; ++w) all &= b.words[w] >> ((bits >> (6 * w)) & 63);
    if ((all & 1) == 0) return false;
    const auto row = pairs_.row(user);
    return std::binary_search(row.begin(), row.end(), item);
  }

  // `candidate` if the user does not have it, else uniformly random items in
  // [1, num_items) until one the user does not have; -1 if they have all.
  std::int32_t negative_or_redraw(std::int32_t user, std::int32_t candidate,
                                  Rng& rng) const noexcept {
    if (!has(user, candidate)) return candidate;
    if (static_cast<std::int64_t>(pairs_.row(user).size()) >= std::int64_t{num_items_} - 1) {
      return -1;
    }
    do {
      candidate = draw_item(rng);
    } while (has(user, candidate));
    return candidate;
  }

  std::int32_t draw_item(Rng& rng) const noexcept {
    return static_cast<std::int32_t>(1 + rng.below(static_cast<std::uint64_t>(num_items_ - 1)));
  }

 private:
  struct alignas(64) Block {
    std::uint64_t words[8] = {};
  };

  // fmix64 (MurmurHash3): every bit depends on the whole key. Its high
  // 32 bits pick the block (multiply-shift); the bits within the block come
  // from h times an odd constant, whose low 48 bits mix h's low bits
  // (h's high bits are nearly constant within one block).
  static std::uint64_t hash(std::int32_t user, std::int32_t item) noexcept {
    std::uint64_t h = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(user)) << 32) ^
                      static_cast<std::uint32_t>(item);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }
  static std::uint64_t bit_hash(std::uint64_t h) noexcept { return h * 0x9E3779B97F4A7C15ULL; }
  const Block& block(std::uint64_t h) const noexcept {
    return blocks_[((h >> 32) * blocks_.size()) >> 32];
  }
  Block& block(std::uint64_t h) noexcept { return blocks_[((h >> 32) * blocks_.size()) >> 32]; }

  const CsrMatrix& pairs_;
  std::int32_t num_items_;
  std::vector<Block> blocks_;
};

// What the sampling loop reads and writes; factors are shared by all threads.
struct Problem {
  const std::int32_t* pair_user;  // nnz: user of each distinct pair
  const std::int32_t* indices;    // nnz: item of each pair
  std::int64_t nnz;
  const NegativeSampler* sampler;
  float* users;  // num_users x stride
  float* items;  // num_items x stride
  float* bias;   // num_items
  std::int64_t stride;
  float learning_rate;
  float regularization;
};

struct Counts {
  std::int64_t correct = 0;
  std::int64_t skipped = 0;  // users who have every item: no negative exists
};

// Hogwild (Recht et al., 2011): the threads read and write the shared
// factors without locks, so two threads may update one row at once and one
// update may be lost; SGD does not mind, and a lock or an atomic per float
// would cost more than the step. These two functions are every access to
// the shared factors in the loop, and they state the race to
// ThreadSanitizer: in a TSan build each access is a relaxed atomic, which is
// what the loop means (any whole float another thread wrote), so TSan
// accepts these races and still reports any other access that races with
// them. In every other build they are plain loads and stores: relaxed
// atomics compile to scalar moves that GCC does not vectorise, and an epoch
// took 3.6x as long (0.27 s -> 1.00 s, 1M pairs, 1 thread; docs/sanitizers.md).
#if defined(__SANITIZE_THREAD__)
#define LATENT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LATENT_TSAN 1
#endif
#endif
// The update loops' `omp simd`, left out under TSan: clang vectorises
// the loop anyway and TSan then sees one plain 8-byte read where the code
// has two relaxed atomic loads.
#define LATENT_PRAGMA(x) _Pragma(#x)
#ifdef LATENT_TSAN
#define LATENT_HOGWILD_SIMD(clauses)
#else
#define LATENT_HOGWILD_SIMD(clauses) LATENT_PRAGMA(omp simd clauses)
#endif
#ifdef LATENT_TSAN
inline float hogwild_load(float& x) noexcept {
  return std::atomic_ref<float>(x).load(std::memory_order_relaxed);
}
inline void hogwild_store(float& x, float v) noexcept {
  std::atomic_ref<float>(x).store(v, std::memory_order_relaxed);
}
#else
inline float hogwild_load(const float& x) noexcept { return x; }
inline void hogwild_store(float& x, float v) noexcept { x = v; }
#endif

// Runs `samples` SGD steps with triples drawn from `rng`. Each triple's
// memory is random (a pair, a user row, two item rows, a filter block), so
// the loop is a three-stage software pipeline: draw the pair 2 * kAhead
// steps ahead and prefetch it; kAhead steps ahead read it, draw the
// negative candidate and prefetch the rows and the filter block; then step.
// The draws happen in a fixed order, so one thread is deterministic.
LATENT_BPR_CLONES Counts run_samples(const Problem& p, std::int64_t samples, Rng& rng) noexcept {
  constexpr std::int64_t kAhead = 8;
  constexpr std::int64_t kRing = 16;  // > kAhead, a power of two
  std::int64_t ring_k[kRing];
  std::int32_t ring_u[kRing], ring_i[kRing], ring_j[kRing];
  const NegativeSampler& sampler = *p.sampler;
  const auto nnz = static_cast<std::uint64_t>(p.nnz);
  const std::int64_t stride = p.stride;
  const float lr = p.learning_rate, reg = p.regularization;
  Counts counts;

  for (std::int64_t s = 0; s < samples + 2 * kAhead; ++s) {
    if (s < samples) {
      const auto k = static_cast<std::int64_t>(rng.below(nnz));
      ring_k[s & (kRing - 1)] = k;
      __builtin_prefetch(p.pair_user + k, 0, 3);
      __builtin_prefetch(p.indices + k, 0, 3);
    }
    if (const std::int64_t t = s - kAhead; t >= 0 && t < samples) {
      const std::int64_t slot = t & (kRing - 1);
      const std::int64_t k = ring_k[slot];
      const std::int32_t u = p.pair_user[k];
      const std::int32_t i = p.indices[k];
      const std::int32_t j = sampler.draw_item(rng);
      ring_u[slot] = u;
      ring_i[slot] = i;
      ring_j[slot] = j;
      __builtin_prefetch(sampler.block_of(u, j), 0, 3);
      for (const float* row : {p.users + u * stride, p.items + i * stride, p.items + j * stride}) {
        for (std::int64_t f = 0; f < stride; f += 16) __builtin_prefetch(row + f, 1, 3);
      }
      __builtin_prefetch(p.bias + i, 1, 3);
      __builtin_prefetch(p.bias + j, 1, 3);
    }
    const std::int64_t t = s - 2 * kAhead;
    if (t < 0) continue;
    const std::int64_t slot = t & (kRing - 1);
    const std::int32_t u = ring_u[slot];
    const std::int32_t i = ring_i[slot];
    const std::int32_t j = sampler.negative_or_redraw(u, ring_j[slot], rng);
    if (j < 0) {
      ++counts.skipped;
      continue;
    }
    float* __restrict pu = p.users + u * stride;
    float* __restrict pi = p.items + static_cast<std::int64_t>(i) * stride;
    float* __restrict pj = p.items + static_cast<std::int64_t>(j) * stride;
    float score = hogwild_load(p.bias[i]) - hogwild_load(p.bias[j]);
    LATENT_HOGWILD_SIMD(reduction(+ : score))
    for (std::int64_t d = 0; d < stride; ++d) {
      score += hogwild_load(pu[d]) * (hogwild_load(pi[d]) - hogwild_load(pj[d]));
    }
    // d/dscore of -log sigmoid(score) is -sigmoid(-score) = -z.
    const float z = 1.0f / (1.0f + std::exp(score));
    counts.correct += score > 0 ? 1 : 0;
    LATENT_HOGWILD_SIMD()
    for (std::int64_t d = 0; d < stride; ++d) {
      const float xu = hogwild_load(pu[d]), xi = hogwild_load(pi[d]), xj = hogwild_load(pj[d]);
      hogwild_store(pu[d], xu + lr * (z * (xi - xj) - reg * xu));
      hogwild_store(pi[d], xi + lr * (z * xu - reg * xi));
      hogwild_store(pj[d], xj + lr * (-z * xu - reg * xj));
    }
    const float bi = hogwild_load(p.bias[i]), bj = hogwild_load(p.bias[j]);
    hogwild_store(p.bias[i], bi + lr * (z - reg * bi));
    hogwild_store(p.bias[j], bj + lr * (-z - reg * bj));
  }
  return counts;
}

// Keeps each thread's generator on its own cache line.
struct alignas(64) ThreadRng {
  explicit ThreadRng(Rng r) : rng(r) {}
  Rng rng;
};

// The user of each of the CSR's distinct pairs, for when the caller's
// arrays repeat pairs and cannot serve as the pairs to draw from.
std::vector<std::int32_t> users_of_pairs(const CsrMatrix& csr) {
  std::vector<std::int32_t> pair_user(static_cast<std::size_t>(csr.nnz()));
  for (std::int32_t u = 0; u < csr.rows(); ++u) {
    std::fill(pair_user.begin() + csr.indptr()[static_cast<std::size_t>(u)],
              pair_user.begin() + csr.indptr()[static_cast<std::size_t>(u) + 1], u);
  }
  return pair_user;
}

// Factors padded to whole cache lines; the padding stays exactly zero
// (every update of a zero column by zero columns is zero). The user's
// constant 1 column is implicit: the item bias is added to the score.
struct Factors {
  AlignedTable users;       // num_users x stride
  AlignedTable items;       // num_items x stride
  std::vector<float> bias;  // num_items
  std::int64_t stride;
};

// implicit's initialisation: uniform (-0.5, 0.5) / dim, zero for users and
// items without pairs. The draw order (users, then items, each item's bias
// after its factors) is part of what a seed means: golden fits pin it.
Factors initial_factors(const Interactions& train, const CsrMatrix& csr, const BprConfig& config) {
  const int dim = config.dim;
  const std::int64_t stride = (dim + 15) / 16 * 16;
  Factors f{AlignedTable(train.num_users, stride), AlignedTable(train.num_items, stride),
            std::vector<float>(static_cast<std::size_t>(train.num_items), 0.0f), stride};
  std::vector<char> has_item(static_cast<std::size_t>(train.num_items), 0);
  for (auto i : csr.indices()) has_item[static_cast<std::size_t>(i)] = 1;

  Rng init(config.seed);
  const float scale = 1.0f / static_cast<float>(dim);
  for (std::int32_t u = 1; u < train.num_users; ++u) {
    if (csr.row(u).empty()) continue;
    float* row = f.users.row(u);
    for (int d = 0; d < dim; ++d) row[d] = (init.uniform() - 0.5f) * scale;
  }
  for (std::int32_t i = 1; i < train.num_items; ++i) {
    if (!has_item[static_cast<std::size_t>(i)]) continue;
    float* row = f.items.row(i);
    for (int d = 0; d < dim; ++d) row[d] = (init.uniform() - 0.5f) * scale;
    f.bias[static_cast<std::size_t>(i)] = (init.uniform() - 0.5f) * scale;
  }
  return f;
}

// A warm start: the initial rows replace the random ones, in the exported
// layout (dim factors, then the item bias; the users' constant 1 is implicit).
void start_from(const InitialVectors& init, int dim, Factors& f) {
  if (init.users != nullptr) {
    for (std::int64_t u = 1; u < init.users->rows(); ++u) {
      std::copy_n(init.users->row(u).data(), dim, f.users.row(u));
    }
  }
  if (init.items != nullptr) {
    for (std::int64_t i = 1; i < init.items->rows(); ++i) {
      const auto row = init.items->row(i);
      std::copy_n(row.data(), dim, f.items.row(i));
      f.bias[static_cast<std::size_t>(i)] = row[static_cast<std::size_t>(dim)];
    }
  }
}

// Runs config.epochs epochs of problem.nnz samples each, appending each
// epoch's time and sampled accuracy to `result`.
void run_epochs(const Problem& problem, const BprConfig& config, int threads,
                const std::function<void(int, double, double)>& on_epoch, BprResult& result) {
  std::vector<ThreadRng> rngs;
  rngs.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    rngs.emplace_back(Rng::stream(config.seed, static_cast<std::uint64_t>(t)));
  }
  std::vector<Counts> counts(static_cast<std::size_t>(threads));

  const std::int64_t samples = problem.nnz;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto t0 = Clock::now();
    std::fill(counts.begin(), counts.end(), Counts{});
#pragma omp parallel num_threads(threads)
    {
      // Hogwild: threads update the shared factors without locks; the
      // rows two threads touch at once are rarely the same ones.
      const int t = omp_get_thread_num();
      const int nt = omp_get_num_threads();
      const std::int64_t begin = samples * t / nt, end = samples * (t + 1) / nt;
      counts[static_cast<std::size_t>(t)] =
          run_samples(problem, end - begin, rngs[static_cast<std::size_t>(t)].rng);
    }
    std::int64_t correct = 0, skipped = 0;
    for (const auto& c : counts) {
      correct += c.correct;
      skipped += c.skipped;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double accuracy =
        samples > skipped ? static_cast<double>(correct) / static_cast<double>(samples - skipped)
                          : 0.0;
    result.seconds.push_back(seconds);
    result.accuracy.push_back(accuracy);
    if (on_epoch) on_epoch(epoch, seconds, accuracy);
  }
}

// Export as implicit lays them out: dim factors, then the bias column
// (the item bias; a constant 1 for users, except the OOV row).
void export_factors(const Factors& f, const Interactions& train, int dim, BprResult& result) {
  result.user_factors = Matrix(train.num_users, dim + 1);
  result.item_factors = Matrix(train.num_items, dim + 1);
  for (std::int32_t u = 1; u < train.num_users; ++u) {
    auto row = result.user_factors.row(u);
    std::copy_n(f.users.row(u), dim, row.data());
    row[static_cast<std::size_t>(dim)] = 1.0f;
  }
  for (std::int32_t i = 1; i < train.num_items; ++i) {
    auto row = result.item_factors.row(i);
    std::copy_n(f.items.row(i), dim, row.data());
    row[static_cast<std::size_t>(dim)] = f.bias[static_cast<std::size_t>(i)];
  }
}

}  // namespace

BprResult train_bpr(const Interactions& train, const BprConfig& config,
                    const std::function<void(int, double, double)>& on_epoch,
                    const InitialVectors& init) {
  config.validate();
  check_training_pairs(train);
  check_initial_rows(init.users, train.num_users, config.dim + 1, "initial user factors");
  check_initial_rows(init.items, train.num_items, config.dim + 1, "initial item factors");
  const int threads = detail::resolve_threads(config.threads);
  const CsrMatrix csr = CsrMatrix::from_interactions(train);
  // The pairs the positives are drawn from: the caller's own arrays when
  // they hold every pair once (no copy: at 20M-shaped data a user-per-pair
  // array is 40 MB, the largest thing BPR would allocate), else the CSR's
  // distinct pairs with a user array beside them.
  const bool distinct = static_cast<std::size_t>(csr.nnz()) == train.size();
  const std::vector<std::int32_t> csr_user =
      distinct ? std::vector<std::int32_t>() : users_of_pairs(csr);
  Factors factors = initial_factors(train, csr, config);
  start_from(init, config.dim, factors);

  const NegativeSampler sampler(csr);
  const Problem problem{.pair_user = distinct ? train.users.data() : csr_user.data(),
                        .indices = distinct ? train.items.data() : csr.indices().data(),
                        .nnz = csr.nnz(),
                        .sampler = &sampler,
                        .users = factors.users.data(),
                        .items = factors.items.data(),
                        .bias = factors.bias.data(),
                        .stride = factors.stride,
                        .learning_rate = config.learning_rate,
                        .regularization = config.regularization};
  BprResult result;
  run_epochs(problem, config, threads, on_epoch, result);
  export_factors(factors, train, config.dim, result);
  return result;
}

namespace detail {

std::vector<std::int32_t> bpr_sample_negatives(const Interactions& train,
                                               std::span<const std::int32_t> users,
                                               std::uint64_t seed) {
  const CsrMatrix csr = CsrMatrix::from_interactions(train);
  const NegativeSampler sampler(csr);
  Rng rng(seed);
  std::vector<std::int32_t> out;
  out.reserve(users.size());
  for (auto u : users) out.push_back(sampler.negative_or_redraw(u, sampler.draw_item(rng), rng));
  return out;
}

}  // namespace detail
}  // namespace latent
