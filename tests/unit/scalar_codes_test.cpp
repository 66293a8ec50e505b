// ScalarCodes (src/detail/scalar_codes.hpp): one byte per value, whose
// scores an index walks its graph by. Each score must be within the grid's
// error bound of the true dot product, for dimensions that fill the vector
// kernels' lanes and ones that leave a remainder; and the norm bound a
// search skips rows by must never be below a row's score.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <latent/matrix.hpp>

#include "detail/kernels.hpp"
#include "detail/scalar_codes.hpp"

namespace latent::detail {
namespace {

Matrix random_rows(std::int64_t rows, std::int64_t dim, unsigned seed) {
  Matrix m(rows, dim);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.3f, 2.0f);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

// Every row's index, to score them all.
std::vector<std::int32_t> all_rows(const Matrix& rows) {
  std::vector<std::int32_t> all(static_cast<std::size_t>(rows.rows()));
  std::iota(all.begin(), all.end(), 0);
  return all;
}

class ScalarCodesDims : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ScalarCodesDims, ScoresAreTheDotProductWithinTheGridAndTheQuerysRounding) {
  const std::int64_t dim = GetParam();
  const Matrix rows = random_rows(300, dim, 7);
  const ScalarCodes codes(rows);
  const Matrix queries = random_rows(5, dim, 8);
  const std::vector<std::int32_t> all = all_rows(rows);
  std::vector<float> got(all.size());
  ScalarCodes::Query prepared;
  for (std::int64_t q = 0; q < queries.rows(); ++q) {
    const float* query = queries.data() + q * dim;
    codes.prepare(query, prepared);
    codes.scores(prepared, all.data(), static_cast<std::int64_t>(all.size()), got.data());
    // Each value is off by at most half its dimension's grid step: (max -
    // min) / 255 / 2; and each of the query's values times a grid step by
    // at most half the largest of them over CodeQuery::limit, times a code
    // of at most 255.
    double bound = 0, largest = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      float lo = rows.data()[j], hi = lo;
      for (std::int64_t r = 0; r < rows.rows(); ++r) {
        lo = std::min(lo, rows.data()[r * dim + j]);
        hi = std::max(hi, rows.data()[r * dim + j]);
      }
      bound += std::abs(query[j]) * (hi - lo) / 255.0 / 2.0;
      largest = std::max(largest, std::abs(query[j]) * (hi - lo) / 255.0);
    }
    bound += 255.0 * static_cast<double>(dim) * largest / CodeQuery::limit(dim) / 2.0;
    double worst = 0;
    for (std::int64_t r = 0; r < rows.rows(); ++r) {
      double exact = 0;
      for (std::int64_t j = 0; j < dim; ++j) exact += double{query[j]} * rows.data()[r * dim + j];
      worst = std::max(worst, std::abs(exact - got[static_cast<std::size_t>(r)]));
    }
    EXPECT_LE(worst, bound * 1.01 + 1e-4) << "query " << q;
    EXPECT_GT(worst, 0.0) << "codes that score exactly would not be one byte per value";
  }
}

// A query for dot_codes: values within the limit, split into bytes.
struct TestQuery {
  std::vector<std::int16_t> values;
  std::vector<std::int8_t> high, low;
  CodeQuery view(float scale, float offset) const {
    return {values.data(), high.data(), low.data(), scale, offset};
  }
};
TestQuery split(std::vector<std::int16_t> values) {
  TestQuery t;
  const std::size_t padded = (values.size() + 63) / 64 * 64;
  t.high.assign(padded, 0);
  t.low.assign(padded, 0);
  for (std::size_t j = 0; j < values.size(); ++j) CodeQuery::split(values[j], t.high[j], t.low[j]);
  t.values = std::move(values);
  return t;
}

// Each instruction set's kernel (the one this CPU runs is checked above)
// against the portable loop: the same floats, on dimensions with and
// without a remainder, rows in batches and one by one, and at the extremes
// (every code 255 times the largest value: the sum just fits in 32 bits).
TEST(ScalarCodes, EveryKernelThisCpuGivesThePortableOnesFloats) {
  const DotCodes portable = dot_codes_for("portable");
  ASSERT_NE(portable, nullptr);
  int compared = 0;
  for (const std::int64_t dim : {1, 7, 8, 16, 33, 64, 100, 130, 1000}) {
    const std::int32_t limit = CodeQuery::limit(dim);
    ASSERT_GE(limit, 1);
    ASSERT_LE(std::int64_t{255} * dim * limit,
              std::int64_t{std::numeric_limits<std::int32_t>::max()});
    std::mt19937 rng(static_cast<unsigned>(dim));
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(21 * dim));
    for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 256);
    std::fill(codes.begin() + 20 * dim, codes.end(), std::uint8_t{255});  // row 20
    std::vector<std::int16_t> values(static_cast<std::size_t>(dim));
    for (auto& v : values)
      v = static_cast<std::int16_t>(static_cast<std::int32_t>(rng() % (2 * limit + 1)) - limit);
    const TestQuery random = split(values);
    const TestQuery most =
        split(std::vector<std::int16_t>(values.size(), static_cast<std::int16_t>(limit)));
    const TestQuery least =
        split(std::vector<std::int16_t>(values.size(), static_cast<std::int16_t>(-limit)));
    const std::vector<std::int32_t> rows{19, 0, 5, 5, 12, 20, 3, 20, 7};
    for (const TestQuery* t : {&random, &most, &least}) {
      const CodeQuery q = t->view(1.0f / 3.0f, 0.5f);
      std::vector<float> want(rows.size()), got(rows.size()), one(1);
      portable(q, codes.data(), dim, rows.data(), static_cast<std::int64_t>(rows.size()),
               want.data());
      for (const char* isa : {"avx512vnni", "avx2"}) {
        const DotCodes kernel = dot_codes_for(isa);
        if (kernel == nullptr) continue;  // this CPU lacks it
        kernel(q, codes.data(), dim, rows.data(), static_cast<std::int64_t>(rows.size()),
               got.data());
        for (std::size_t i = 0; i < rows.size(); ++i) {
          EXPECT_EQ(got[i], want[i]) << isa << ", dim " << dim << ", row " << rows[i];
          kernel(q, codes.data(), dim, &rows[i], 1, one.data());
          EXPECT_EQ(one[0], want[i]) << isa << " one row, dim " << dim << ", row " << rows[i];
        }
        ++compared;
      }
      // The portable loop itself against the exact sum, done in doubles.
      for (std::size_t i = 0; i < rows.size(); ++i) {
        double exact = 0;
        for (std::int64_t j = 0; j < dim; ++j) {
          exact += static_cast<double>(codes[static_cast<std::size_t>(rows[i] * dim + j)]) *
                   t->values[static_cast<std::size_t>(j)];
        }
        const volatile float product = static_cast<float>(exact) * (1.0f / 3.0f);
        EXPECT_EQ(want[i], 0.5f + product) << "dim " << dim << ", row " << rows[i];
      }
    }
  }
  EXPECT_EQ(dot_codes_for("sse9"), nullptr);
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_GT(compared, 0);
  }
#endif
}

// Rows whose norms spread 100x, around an offset (so the grid's low corner
// is far from zero and the codes' sums cancel), as recommender vectors'.
Matrix spread_rows(std::int64_t rows, std::int64_t dim, unsigned seed) {
  Matrix m = random_rows(rows, dim, seed);
  std::mt19937 rng(seed + 100);
  std::uniform_real_distribution<float> scale(0.01f, 1.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float s = scale(rng);
    for (std::int64_t j = 0; j < dim; ++j) m.data()[r * dim + j] *= s;
  }
  return m;
}

TEST_P(ScalarCodesDims, TheNormBoundIsNeverBelowAScoreAndNotLoose) {
  const std::int64_t dim = GetParam();
  const Matrix rows = spread_rows(400, dim, 11);
  const ScalarCodes codes(rows);
  const std::vector<std::int32_t> all = all_rows(rows);
  std::vector<float> got(all.size());
  ScalarCodes::Query prepared;
  double longest = 0;
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    double n = 0;
    for (std::int64_t j = 0; j < dim; ++j)
      n += double{rows.data()[r * dim + j]} * rows.data()[r * dim + j];
    longest = std::max(longest, std::sqrt(n));
  }
  // Queries: the rows themselves (a row's best score is its own), scaled
  // from tiny to huge.
  for (const float scale : {1e-6f, 1.0f, 3e4f}) {
    for (std::int64_t q = 0; q < rows.rows(); q += 37) {
      std::vector<float> query(rows.data() + q * dim, rows.data() + (q + 1) * dim);
      for (float& v : query) v *= scale;
      double query_norm = 0;
      for (const float v : query) query_norm += double{v} * v;
      query_norm = std::sqrt(query_norm);
      codes.prepare(query.data(), prepared);
      codes.scores(prepared, all.data(), static_cast<std::int64_t>(all.size()), got.data());
      for (std::size_t r = 0; r < all.size(); ++r) {
        const float bound = prepared.bound_step * static_cast<float>(codes.norm_byte(all[r])) +
                            prepared.bound_slack;
        ASSERT_LE(got[r], bound) << "row " << r << ", query " << q << " x " << scale;
        // Rounded up to a 255th of the longest norm, plus a grid step's worth
        // per value: a bound that skips nothing would pass the line above.
        double norm = 0;
        for (std::int64_t j = 0; j < dim; ++j) {
          norm += double{rows.data()[all[r] * dim + j]} * rows.data()[all[r] * dim + j];
        }
        ASSERT_LE(bound, query_norm * (std::sqrt(norm) + longest / 255 + longest / 20) * 1.001)
            << "row " << r << ", query " << q << " x " << scale;
      }
    }
  }
}

TEST_P(ScalarCodesDims, NormLimitSkipsOnlyRowsScoringBelowTheFloor) {
  const std::int64_t dim = GetParam();
  const Matrix rows = spread_rows(400, dim, 12);
  const ScalarCodes codes(rows);
  const std::vector<std::int32_t> all = all_rows(rows);
  std::vector<float> got(all.size());
  ScalarCodes::Query prepared;
  std::int64_t skipped = 0;
  for (std::int64_t q = 0; q < 20; ++q) {
    const float* query = rows.data() + q * 19 * dim;
    codes.prepare(query, prepared);
    codes.scores(prepared, all.data(), static_cast<std::int64_t>(all.size()), got.data());
    std::vector<float> floors = got;  // each score as the floor, and just above it
    for (const float f : got) floors.push_back(std::nextafter(f, 1e30f));
    for (const float floor : floors) {
      const int limit = codes.norm_limit(prepared, floor);
      ASSERT_GE(limit, 0);
      ASSERT_LE(limit, 256);
      for (int b = 0; b < 256; ++b) {
        ASSERT_EQ(b < limit,
                  prepared.bound_step * static_cast<float>(b) + prepared.bound_slack < floor)
            << "byte " << b << ", floor " << floor << ", limit " << limit;
      }
      for (std::size_t r = 0; r < all.size(); ++r) {
        if (codes.norm_byte(all[r]) < limit) {
          ASSERT_LT(got[r], floor) << "row " << r << " skipped";
          ++skipped;
        }
      }
    }
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(codes.norm_limit(prepared, -inf), 0);
    EXPECT_EQ(codes.norm_limit(prepared, inf), 256);
    EXPECT_EQ(codes.norm_limit(prepared, std::numeric_limits<float>::quiet_NaN()), 0);
  }
  // With norms 100x apart, high floors skip the short rows.
  EXPECT_GT(skipped, 0);
}

INSTANTIATE_TEST_SUITE_P(Dims, ScalarCodesDims, ::testing::Values(1, 7, 16, 64, 100));

TEST(ScalarCodes, ScoresOnlyTheRowsAskedForInTheirOrder) {
  const Matrix rows = random_rows(50, 64, 3);
  const ScalarCodes codes(rows);
  ScalarCodes::Query prepared;
  codes.prepare(rows.data() + 64, prepared);
  // Rows in batches of four and the rest one by one score as each alone.
  const std::vector<std::int32_t> some{49, 0, 1, 17, 3, 3, 8, 40, 2};
  std::vector<float> got(some.size()), one(1);
  codes.scores(prepared, some.data(), static_cast<std::int64_t>(some.size()), got.data());
  for (std::size_t i = 0; i < some.size(); ++i) {
    codes.scores(prepared, &some[i], 1, one.data());
    EXPECT_EQ(got[i], one[0]);
  }
  EXPECT_GT(got[2], 0.0f);  // row 1 is the query: about its squared norm
}

TEST(ScalarCodes, ConstantDimensionsAndEmptyMatrices) {
  Matrix rows(4, 3);
  for (std::int64_t r = 0; r < 4; ++r) {
    rows.data()[r * 3] = 2.5f;  // the same in every row: no grid step
    rows.data()[r * 3 + 1] = static_cast<float>(r);
    rows.data()[r * 3 + 2] = -1.0f * static_cast<float>(r);
  }
  const ScalarCodes codes(rows);
  const float query[3] = {1.0f, 2.0f, 3.0f};
  ScalarCodes::Query prepared;
  codes.prepare(query, prepared);
  const std::vector<std::int32_t> all{0, 1, 2, 3};
  std::vector<float> got(4);
  codes.scores(prepared, all.data(), 4, got.data());
  for (std::int64_t r = 0; r < 4; ++r) {
    const float exact = 2.5f + 2.0f * static_cast<float>(r) - 3.0f * static_cast<float>(r);
    EXPECT_NEAR(got[static_cast<std::size_t>(r)], exact, 1e-4f) << "row " << r;
  }
  // A query that is not finite scores NaN (which a search skips), never a
  // made-up number.
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const float odd[3] = {1.0f, bad, 3.0f};
    codes.prepare(odd, prepared);
    codes.scores(prepared, all.data(), 4, got.data());
    for (const float g : got) EXPECT_TRUE(std::isnan(g)) << bad << ": " << g;
  }
  const ScalarCodes none(Matrix(0, 8));
  EXPECT_GE(none.bytes(), 0);

  // All rows zero: every score is 0, and no floor at or below it skips any.
  const ScalarCodes zeros(Matrix(3, 4));
  const float query4[4] = {1.0f, -2.0f, 3.0f, 0.5f};
  zeros.prepare(query4, prepared);
  EXPECT_EQ(zeros.norm_limit(prepared, 0.0f), 0);
  EXPECT_EQ(zeros.norm_limit(prepared, -1.0f), 0);
}

}  // namespace
}  // namespace latent::detail
