#include <latent/error.hpp>
#include <latent/index.hpp>
#include <latent/random.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace latent {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix m(rows, cols);
  for (auto& v : m.storage()) v = rng.uniform() * 2.0f - 1.0f;
  return m;
}

double dot(const Matrix& a, std::int64_t i, const Matrix& b, std::int64_t j) {
  double s = 0;
  for (std::int64_t d = 0; d < a.cols(); ++d) {
    s += static_cast<double>(a.row(i)[d]) * static_cast<double>(b.row(j)[d]);
  }
  return s;
}

// The oracle: every eligible item scored in double, sorted by (score desc,
// item asc), the first k kept.
struct Ranked {
  std::vector<std::int32_t> items;
  std::vector<double> scores;
};

Ranked brute_force_row(const Matrix& queries, std::int64_t q, const Matrix& items, std::int32_t k,
                       const std::set<std::int32_t>& excluded) {
  std::vector<std::pair<double, std::int32_t>> all;
  for (std::int32_t j = 0; j < items.rows(); ++j) {
    if (!excluded.count(j)) all.emplace_back(dot(queries, q, items, j), j);
  }
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return x.first > y.first || (x.first == y.first && x.second < y.second);
  });
  Ranked r;
  for (std::int32_t i = 0; i < k && i < static_cast<std::int32_t>(all.size()); ++i) {
    r.items.push_back(all[i].second);
    r.scores.push_back(all[i].first);
  }
  return r;
}

std::set<std::int32_t> excluded_for(const SearchOptions& options, std::int64_t q) {
  std::set<std::int32_t> s(options.exclude_items.begin(), options.exclude_items.end());
  if (options.exclude_rows != nullptr) {
    for (auto j : options.exclude_rows->row(options.exclude_row_of[q])) s.insert(j);
  }
  return s;
}

// Compares against the oracle: items exactly, scores within 1e-4, padding
// after the eligible items. Two items whose exact scores differ by less than
// float32 rounding may legitimately swap, so ranks next to such a near tie
// compare scores only (exact ties still must break by the lower index).
void expect_matches_brute_force(const Matrix& queries, const Matrix& items,
                                const SearchOptions& options, const TopK& got) {
  ASSERT_EQ(got.queries, queries.rows());
  ASSERT_EQ(got.k, options.k);
  ASSERT_EQ(got.items.size(), static_cast<std::size_t>(queries.rows() * options.k));
  ASSERT_EQ(got.scores.size(), got.items.size());
  for (std::int64_t q = 0; q < queries.rows(); ++q) {
    const auto want = brute_force_row(queries, q, items, options.k + 1, excluded_for(options, q));
    const auto eligible = static_cast<std::int32_t>(want.items.size());
    auto near_tie = [&](std::int32_t i, std::int32_t j) {
      if (j < 0 || j >= eligible) return false;
      const double gap = std::abs(want.scores[i] - want.scores[j]);
      return gap > 0 && gap < 1e-5;
    };
    for (std::int32_t i = 0; i < options.k; ++i) {
      const auto at = static_cast<std::size_t>(q * options.k + i);
      if (i < eligible) {
        if (!near_tie(i, i - 1) && !near_tie(i, i + 1)) {
          EXPECT_EQ(got.items[at], want.items[i]) << "query " << q << " rank " << i;
        }
        EXPECT_NEAR(got.scores[at], want.scores[i], 1e-4) << "query " << q << " rank " << i;
      } else {
        EXPECT_EQ(got.items[at], -1) << "query " << q << " rank " << i;
        EXPECT_EQ(got.scores[at], kNegInf) << "query " << q << " rank " << i;
      }
    }
  }
}

// Seen items: query q's row holds a seeded random subset of the items.
CsrMatrix random_seen(std::int32_t rows, std::int32_t items, std::int32_t per_row,
                      std::uint64_t seed) {
  Rng rng(seed);
  Interactions x;
  x.num_users = rows;
  x.num_items = items;
  for (std::int32_t u = 0; u < rows; ++u) {
    for (std::int32_t i = 0; i < per_row; ++i) {
      x.users.push_back(u);
      x.items.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(items))));
    }
  }
  return CsrMatrix::from_interactions(x);
}

struct Shape {
  std::int64_t queries;
  std::int64_t items;
  std::int64_t dim;
  std::int32_t k;
};

TEST(IndexTopK, MatchesBruteForceAcrossShapes) {
  const Shape shapes[] = {
      {1, 50, 7, 10},       // one query
      {3, 5, 7, 10},        // fewer items than k: padded
      {300, 1100, 64, 10},  // queries and items not multiples of the blocks
      {600, 2100, 1, 5},    // dim 1: many ties in rank order, exact scores
      {17, 2500, 64, 1},    // few queries, several item blocks
      {1030, 40, 7, 40},    // k == items
      {2, 3000, 7, 100},
  };
  std::uint64_t seed = 1;
  for (const auto& s : shapes) {
    SCOPED_TRACE(::testing::Message() << s.queries << " queries x " << s.items << " items, dim "
                                      << s.dim << ", k " << s.k);
    const Matrix queries = random_matrix(s.queries, s.dim, seed++);
    const Matrix items = random_matrix(s.items, s.dim, seed++);
    SearchOptions options;
    options.k = s.k;
    for (int threads : {1, 2}) {
      options.threads = threads;
      expect_matches_brute_force(queries, items, options, top_k(queries, items, options));
    }
  }
}

TEST(IndexTopK, ExcludesGlobalAndPerQueryItems) {
  const Matrix queries = random_matrix(520, 16, 11);
  const Matrix items = random_matrix(1500, 16, 12);
  const CsrMatrix seen = random_seen(600, 1500, 60, 13);
  std::vector<std::int32_t> row_of(520);
  for (std::size_t q = 0; q < row_of.size(); ++q) row_of[q] = static_cast<std::int32_t>(q + 7);
  // Row 0 (OOV), a block boundary, items beyond the catalog are ignored.
  const std::vector<std::int32_t> global = {0, 3, 511, 512, 1023, 1024, 1499, 5000};
  SearchOptions options;
  options.k = 20;
  options.exclude_items = global;
  options.exclude_rows = &seen;
  options.exclude_row_of = row_of;
  for (int threads : {1, 2}) {
    options.threads = threads;
    const TopK got = top_k(queries, items, options);
    expect_matches_brute_force(queries, items, options, got);
    for (std::int64_t q = 0; q < queries.rows(); ++q) {
      const auto excluded = excluded_for(options, q);
      for (std::int32_t i = 0; i < options.k; ++i) {
        EXPECT_FALSE(excluded.count(got.items[q * options.k + i])) << "query " << q;
      }
    }
  }
}

TEST(IndexTopK, PadsWhenExclusionsLeaveFewerThanK) {
  const Matrix queries = random_matrix(2, 4, 21);
  const Matrix items = random_matrix(6, 4, 22);
  const std::vector<std::int32_t> global = {1, 4};
  const CsrMatrix seen(2, 6, {0, 2, 2}, {0, 5});
  const std::vector<std::int32_t> row_of = {0, 1};
  SearchOptions options;
  options.k = 5;
  options.exclude_items = global;
  options.exclude_rows = &seen;
  options.exclude_row_of = row_of;
  const TopK got = top_k(queries, items, options);
  expect_matches_brute_force(queries, items, options, got);
  // Query 0 keeps items {2, 3}, query 1 keeps {0, 2, 3, 5}.
  EXPECT_EQ(got.items[2], -1);
  EXPECT_EQ(got.items[4], -1);
  EXPECT_NE(got.items[5 + 3], -1);
  EXPECT_EQ(got.items[5 + 4], -1);
  EXPECT_EQ(got.scores[5 + 4], kNegInf);
}

TEST(IndexTopK, TiesBreakByLowerItemIndex) {
  // Item rows repeat with period 5 (bitwise identical), so every score has
  // several equal copies; the lower indices must come first.
  const Matrix base = random_matrix(5, 8, 31);
  Matrix items(3000, 8);
  for (std::int64_t i = 0; i < items.rows(); ++i) {
    std::copy(base.row(i % 5).begin(), base.row(i % 5).end(), items.row(i).begin());
  }
  const Matrix queries = random_matrix(700, 8, 32);
  SearchOptions options;
  options.k = 7;
  for (int threads : {1, 2}) {
    options.threads = threads;
    const TopK got = top_k(queries, items, options);
    for (std::int64_t q = 0; q < queries.rows(); ++q) {
      const std::int32_t* row = got.items.data() + q * options.k;
      // The best base row's copies are items b, b + 5, b + 10, ...
      const std::int32_t best = row[0];
      ASSERT_LT(best, 5) << "query " << q;
      for (std::int32_t i = 0; i < options.k; ++i) {
        EXPECT_EQ(row[i], best + 5 * i) << "query " << q << " rank " << i;
      }
    }
  }
  // One query against the same items exercises the split-by-items merge.
  const Matrix one = random_matrix(1, 8, 33);
  options.threads = 2;
  const TopK got = top_k(one, items, options);
  for (std::int32_t i = 0; i < options.k; ++i) EXPECT_EQ(got.items[i], got.items[0] + 5 * i);
}

TEST(IndexTopK, ThreadCountsGiveIdenticalResults) {
  const Shape shapes[] = {{1, 5000, 64, 10}, {300, 3000, 64, 10}, {2000, 1500, 7, 3}};
  std::uint64_t seed = 41;
  for (const auto& s : shapes) {
    const Matrix queries = random_matrix(s.queries, s.dim, seed++);
    const Matrix items = random_matrix(s.items, s.dim, seed++);
    const CsrMatrix seen = random_seen(static_cast<std::int32_t>(s.queries),
                                       static_cast<std::int32_t>(s.items), 30, seed++);
    std::vector<std::int32_t> row_of(static_cast<std::size_t>(s.queries));
    for (std::size_t q = 0; q < row_of.size(); ++q) row_of[q] = static_cast<std::int32_t>(q);
    SearchOptions options;
    options.k = s.k;
    options.exclude_rows = &seen;
    options.exclude_row_of = row_of;
    options.threads = 1;
    const TopK one = top_k(queries, items, options);
    for (int threads : {2, 3}) {
      options.threads = threads;
      const TopK many = top_k(queries, items, options);
      EXPECT_EQ(one.items, many.items);
      EXPECT_EQ(one.scores, many.scores);
    }
  }
}

TEST(IndexTopK, EmptyInputs) {
  const Matrix items = random_matrix(10, 4, 51);
  SearchOptions options;
  options.k = 3;
  const TopK none = top_k(Matrix(0, 4), items, options);
  EXPECT_EQ(none.queries, 0);
  EXPECT_EQ(none.k, 3);
  EXPECT_TRUE(none.items.empty());
  EXPECT_TRUE(none.scores.empty());

  const TopK no_items = top_k(random_matrix(2, 4, 52), Matrix(0, 4), options);
  EXPECT_EQ(no_items.items, std::vector<std::int32_t>(6, -1));
  EXPECT_EQ(no_items.scores, std::vector<float>(6, kNegInf));

  // Dim 0: every score is 0, so ties order the items.
  for (std::int64_t queries : {2, 20}) {
    const TopK zero = top_k(Matrix(queries, 0), Matrix(5, 0), options);
    for (std::int64_t q = 0; q < queries; ++q) {
      for (std::int32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(zero.items[q * 3 + i], i);
        EXPECT_EQ(zero.scores[q * 3 + i], 0.0f);
      }
    }
  }
}

TEST(IndexTopK, RejectsBadArguments) {
  const Matrix queries = random_matrix(2, 4, 61);
  const Matrix items = random_matrix(10, 4, 62);
  SearchOptions options;
  for (std::int32_t k : {0, -3}) {
    options.k = k;
    try {
      top_k(queries, items, options);
      FAIL() << "k = " << k << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("k = " + std::to_string(k)), std::string::npos)
          << e.what();
    }
  }
  options.k = 3;
  try {
    top_k(queries, random_matrix(10, 5, 63), options);
    FAIL() << "dim mismatch accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    const std::string what = e.what();
    EXPECT_NE(what.find("dim 4"), std::string::npos) << what;
    EXPECT_NE(what.find("dim 5"), std::string::npos) << what;
  }
  const std::vector<std::int32_t> unsorted = {3, 1};
  options.exclude_items = unsorted;
  EXPECT_THROW(top_k(queries, items, options), Error);
  options.exclude_items = {};
  const CsrMatrix seen(1, 10, {0, 1}, {2});
  const std::vector<std::int32_t> row_of = {0};  // one entry for two queries
  options.exclude_rows = &seen;
  options.exclude_row_of = row_of;
  EXPECT_THROW(top_k(queries, items, options), Error);
  options.exclude_rows = nullptr;
  options.exclude_row_of = {};
  options.threads = -1;
  EXPECT_THROW(top_k(queries, items, options), Error);
}

TEST(IndexScoreBlocks, MatchesBruteForceInRowOrder) {
  const Matrix queries = random_matrix(300, 7, 71);
  const Matrix items = random_matrix(1300, 7, 72);
  for (std::int64_t block_rows : {1, 64, 256, 299, 300, 1000}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "block_rows " << block_rows << ", threads " << threads);
      std::int64_t expected_first = 0;
      const auto caller = std::this_thread::get_id();
      score_blocks(
          queries, items, block_rows,
          [&](std::int64_t first, std::int64_t rows, std::span<const float> block) {
            EXPECT_EQ(std::this_thread::get_id(), caller);
            ASSERT_EQ(first, expected_first);
            ASSERT_EQ(rows, std::min(block_rows, queries.rows() - first));
            ASSERT_EQ(block.size(), static_cast<std::size_t>(rows * items.rows()));
            for (std::int64_t r = 0; r < rows; ++r) {
              for (std::int64_t j = 0; j < items.rows(); ++j) {
                ASSERT_NEAR(block[r * items.rows() + j], dot(queries, first + r, items, j), 1e-4)
                    << "row " << first + r << " item " << j;
              }
            }
            expected_first += rows;
          },
          threads);
      EXPECT_EQ(expected_first, queries.rows());
    }
  }
}

TEST(IndexTopK, OneQueryBatchAndScoreMatrixAgreeBitForBit) {
  // A query's scores are the same floats whether it is searched alone
  // (scored directly), among many queries (sgemm screens, the picks are
  // rescored) or written into the score matrix: one canonical dot product,
  // for any dim and any item count (including the rows left over by the
  // direct scorer's groups of four).
  for (std::int64_t dim : {1, 7, 8, 9, 64, 65}) {
    for (std::int64_t n_items : {1, 3, 4, 5, 9, 1100}) {
      SCOPED_TRACE(::testing::Message() << "dim " << dim << ", items " << n_items);
      const Matrix queries = random_matrix(40, dim, 100 + static_cast<std::uint64_t>(dim));
      const Matrix items = random_matrix(n_items, dim, 200 + static_cast<std::uint64_t>(n_items));
      SearchOptions options;
      options.k = static_cast<std::int32_t>(std::min<std::int64_t>(n_items, 7));
      const TopK batch = top_k(queries, items, options);
      std::vector<float> matrix(static_cast<std::size_t>(queries.rows() * n_items));
      score_blocks(queries, items, 16,
                   [&](std::int64_t first, std::int64_t rows, std::span<const float> block) {
                     std::copy(block.begin(), block.end(), matrix.begin() + first * n_items);
                     EXPECT_EQ(block.size(), static_cast<std::size_t>(rows * n_items));
                   });
      for (std::int64_t q = 0; q < queries.rows(); q += 13) {
        Matrix one(1, dim);
        std::copy(queries.row(q).begin(), queries.row(q).end(), one.row(0).begin());
        const TopK alone = top_k(one, items, options);
        for (std::int32_t i = 0; i < options.k; ++i) {
          const auto at = static_cast<std::size_t>(q * options.k + i);
          ASSERT_EQ(alone.items[static_cast<std::size_t>(i)], batch.items[at]) << "query " << q;
          EXPECT_EQ(alone.scores[static_cast<std::size_t>(i)], batch.scores[at]) << "query " << q;
          const auto item = static_cast<std::size_t>(batch.items[at]);
          EXPECT_EQ(matrix[static_cast<std::size_t>(q * n_items) + item], batch.scores[at])
              << "query " << q;
        }
      }
    }
  }
}

TEST(IndexScoreBlocks, TopKOfTheFullMatrixEqualsTopK) {
  // The full matrix comes from sgemm tiles whose rounding depends on
  // position, top_k rescored its picks exactly: equal up to a few ulps, so
  // the ranks agree except between scores that close.
  const Matrix queries = random_matrix(50, 64, 81);
  const Matrix items = random_matrix(2000, 64, 82);
  SearchOptions options;
  options.k = 10;
  const TopK want = top_k(queries, items, options);
  score_blocks(queries, items, 16,
               [&](std::int64_t first, std::int64_t rows, std::span<const float> block) {
                 for (std::int64_t r = 0; r < rows; ++r) {
                   std::vector<std::int32_t> order(static_cast<std::size_t>(items.rows()));
                   for (std::size_t j = 0; j < order.size(); ++j)
                     order[j] = static_cast<std::int32_t>(j);
                   const float* row = block.data() + r * items.rows();
                   std::partial_sort(order.begin(), order.begin() + options.k + 1, order.end(),
                                     [&](std::int32_t x, std::int32_t y) {
                                       return row[x] > row[y] || (row[x] == row[y] && x < y);
                                     });
                   for (std::int32_t i = 0; i < options.k; ++i) {
                     const auto at = static_cast<std::size_t>((first + r) * options.k + i);
                     EXPECT_NEAR(row[order[i]], want.scores[at], 1e-5);
                     const bool near_tie = (i > 0 && row[order[i - 1]] - row[order[i]] < 1e-5f) ||
                                           row[order[i]] - row[order[i + 1]] < 1e-5f;
                     if (!near_tie) {
                       EXPECT_EQ(order[i], want.items[at]) << "row " << first + r;
                     }
                   }
                 }
               });
}

TEST(IndexScoreBlocks, ErrorsAndEmptyQueries) {
  const Matrix items = random_matrix(10, 4, 91);
  const ScoreBlockSink ignore = [](std::int64_t, std::int64_t, std::span<const float>) {};
  EXPECT_THROW(score_blocks(random_matrix(3, 4, 92), items, 0, ignore), Error);
  EXPECT_THROW(score_blocks(random_matrix(3, 4, 92), items, -5, ignore), Error);
  EXPECT_THROW(score_blocks(random_matrix(3, 5, 92), items, 2, ignore), Error);
  int calls = 0;
  score_blocks(Matrix(0, 4), items, 8,
               [&](std::int64_t, std::int64_t, std::span<const float>) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(IndexScoreBlocks, SinkExceptionPropagates) {
  const Matrix queries = random_matrix(100, 4, 93);
  const Matrix items = random_matrix(50, 4, 94);
  int calls = 0;
  EXPECT_THROW(score_blocks(
                   queries, items, 10,
                   [&](std::int64_t first, std::int64_t, std::span<const float>) {
                     ++calls;
                     if (first == 20) throw Error(ErrorKind::IO, "disk full");
                   },
                   2),
               Error);
  EXPECT_EQ(calls, 3);
}

// Cosine of every pair a < b, in double, as cosines[a * rows + b].
std::vector<double> brute_force_cosines(const Matrix& m) {
  const std::int64_t n = m.rows();
  std::vector<double> norms(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) norms[i] = std::sqrt(dot(m, i, m, i));
  std::vector<double> cosines(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t b = a + 1; b < n; ++b) {
      const double denom = norms[a] * norms[b];
      cosines[a * n + b] = denom > 0 ? dot(m, a, m, b) / denom : 0.0;
    }
  }
  return cosines;
}

void expect_pairs_match(const Matrix& m, const std::vector<double>& cosines, float threshold,
                        std::span<const std::int32_t> exclude,
                        const std::vector<SimilarPair>& got) {
  const auto n = static_cast<std::size_t>(m.rows());
  const std::set<std::int32_t> skip(exclude.begin(), exclude.end());
  std::vector<char> reported(n * n, 0);
  for (const auto& p : got) {
    ASSERT_LT(p.a, p.b);
    ASSERT_GE(p.a, 0);
    ASSERT_LT(static_cast<std::size_t>(p.b), n);
    EXPECT_GT(p.similarity, threshold);
    EXPECT_LE(p.similarity, 1.0f);
    EXPECT_NEAR(p.similarity, cosines[p.a * n + p.b], 1e-5);
    EXPECT_FALSE(skip.count(p.a) || skip.count(p.b)) << p.a << ", " << p.b;
    EXPECT_EQ(reported[p.a * n + p.b]++, 0) << "duplicate pair " << p.a << ", " << p.b;
  }
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      if (skip.count(static_cast<std::int32_t>(a)) || skip.count(static_cast<std::int32_t>(b))) {
        continue;
      }
      const double sim = cosines[a * n + b];
      // Within float rounding of the threshold either answer is right.
      if (std::abs(sim - threshold) < 1e-5) continue;
      EXPECT_EQ(reported[a * n + b], sim > threshold ? 1 : 0)
          << a << ", " << b << " cosine " << sim;
    }
  }
  for (std::size_t i = 1; i < got.size(); ++i) {
    const auto& x = got[i - 1];
    const auto& y = got[i];
    EXPECT_TRUE(x.similarity > y.similarity ||
                (x.similarity == y.similarity && std::tie(x.a, x.b) < std::tie(y.a, y.b)))
        << "unsorted at " << i;
  }
}

TEST(IndexSimilarPairs, MatchesBruteForce) {
  // 1100 rows span several row and column blocks.
  const Matrix m = random_matrix(1100, 7, 101);
  const auto all = brute_force_cosines(m);
  const std::vector<std::int32_t> exclude = {0, 5, 255, 256, 1023, 1099};
  for (float threshold : {-1.0f, 0.0f, 0.5f, 0.9f, 1.0f}) {
    SCOPED_TRACE(::testing::Message() << "threshold " << threshold);
    for (int threads : {1, 2}) {
      const auto got = similar_pairs(m, threshold, {}, threads);
      expect_pairs_match(m, all, threshold, {}, got);
      const auto got_excl = similar_pairs(m, threshold, exclude, threads);
      expect_pairs_match(m, all, threshold, exclude, got_excl);
    }
  }
  EXPECT_TRUE(similar_pairs(m, 1.0f).empty());
}

TEST(IndexSimilarPairs, DuplicateAndZeroRows) {
  Matrix m(4, 3, std::vector<float>{1, 2, 3, 0, 0, 0, 2, 4, 6, -1, -2, -3});
  // Rows 0 and 2 are parallel, 3 is antiparallel, 1 is zero (cosine 0).
  const auto got = similar_pairs(m, 0.99f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].a, 0);
  EXPECT_EQ(got[0].b, 2);
  EXPECT_NEAR(got[0].similarity, 1.0f, 1e-6);
  EXPECT_TRUE(similar_pairs(m, 1.0f).empty());
  const auto above_minus_half = similar_pairs(m, -0.5f);
  // (0,1) (0,2) (1,2) (1,3) have cosine 0 or 1; (0,3) and (2,3) are -1.
  EXPECT_EQ(above_minus_half.size(), 4u);
  EXPECT_TRUE(similar_pairs(Matrix(1, 3, 1.0f), -1.0f).empty());
  EXPECT_TRUE(similar_pairs(Matrix(0, 3), 0.5f).empty());
}

TEST(IndexSimilarPairs, RejectsBadThreshold) {
  const Matrix m = random_matrix(5, 3, 111);
  for (float threshold : {1.5f, -1.01f, std::numeric_limits<float>::quiet_NaN()}) {
    try {
      similar_pairs(m, threshold);
      FAIL() << "threshold " << threshold << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("threshold"), std::string::npos) << e.what();
    }
  }
  try {
    similar_pairs(m, 1.5f);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1.5"), std::string::npos) << e.what();
  }
  const std::vector<std::int32_t> unsorted = {2, 1};
  EXPECT_THROW(similar_pairs(m, 0.5f, unsorted), Error);
}

}  // namespace
}  // namespace latent
