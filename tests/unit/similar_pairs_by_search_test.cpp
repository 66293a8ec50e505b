// similar_pairs_by_search (vector_index.hpp): all pairs above a cosine
// threshold found through an index, against similar_pairs (index.hpp), the
// exact oracle: the same pairs bit for bit when the search is exact, a
// subset with the same similarities and high recall when it is not.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <latent/error.hpp>
#include <latent/hnsw_index.hpp>
#include <latent/vector_index.hpp>

#include "test_support.hpp"

namespace latent {
namespace {

// Items around 12 directions, so that many have dozens of neighbours above
// a high threshold (rows that need more than one search), plus row 0 (the
// OOV row, excluded) and a zero row.
Matrix clustered_items(std::int64_t rows, std::int64_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> scale(0.2f, 3.0f);
  Matrix centres(12, dim);
  for (std::int64_t c = 0; c < 12; ++c) {
    for (float& v : centres.row(c)) v = normal(rng);
  }
  Matrix m(rows, dim);
  for (std::int64_t r = 1; r < rows; ++r) {
    const auto centre = centres.row(static_cast<std::int64_t>(rng() % 12));
    const float s = scale(rng);
    for (std::int64_t j = 0; j < dim; ++j) {
      m.row(r)[static_cast<std::size_t>(j)] =
          s * (centre[static_cast<std::size_t>(j)] + 0.45f * normal(rng));
    }
  }
  for (float& v : m.row(rows / 2)) v = 0;
  return m;
}

const std::vector<std::int32_t> kOov{0};

std::set<std::pair<std::int32_t, std::int32_t>> keys(const std::vector<SimilarPair>& pairs) {
  std::set<std::pair<std::int32_t, std::int32_t>> out;
  for (const auto& p : pairs) out.emplace(p.a, p.b);
  return out;
}

void expect_same(const std::vector<SimilarPair>& a, const std::vector<SimilarPair>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].a, b[i].a) << "pair " << i;
    ASSERT_EQ(a[i].b, b[i].b) << "pair " << i;
    ASSERT_EQ(a[i].similarity, b[i].similarity) << "pair " << i;
  }
}

class SimilarPairsBySearch : public ::testing::Test {
 protected:
  const Matrix items_ = clustered_items(1501, 16, 3);
  const Matrix unit_ = normalize_rows(items_);
  const std::unique_ptr<HnswIndex> index_ = [this] {
    HnswParams p;
    p.threads = 1;
    return HnswIndex::build(unit_, p);
  }();
};

TEST_F(SimilarPairsBySearch, AnExactSearchFindsSimilarPairsAnswerBitForBit) {
  // 0.9: most rows need one search; 0.6: many need two or three (over 32 and
  // 64 neighbours); -0.2: past half the catalog, rows are scanned.
  for (const float threshold : {0.9f, 0.6f, -0.2f}) {
    const auto oracle = similar_pairs(items_, threshold, kOov, 1);
    ASSERT_FALSE(oracle.empty());
    expect_same(similar_pairs_by_search(ExactIndex(), unit_, threshold, kOov, 0, 2), oracle);
    // The graph at full effort is an exact search too.
    expect_same(similar_pairs_by_search(*index_, unit_, threshold, kOov, 1501, 2), oracle);
  }
}

TEST_F(SimilarPairsBySearch, TheDefaultEffortFindsAlmostAllAndNeverMisreports) {
  const auto oracle = similar_pairs(items_, 0.6f, kOov, 1);
  std::map<std::pair<std::int32_t, std::int32_t>, float> truth;
  for (const auto& p : oracle) truth[{p.a, p.b}] = p.similarity;
  const auto found = similar_pairs_by_search(*index_, unit_, 0.6f, kOov, 0, 2);
  ASSERT_GE(static_cast<double>(found.size()), 0.95 * static_cast<double>(oracle.size()))
      << found.size() << " of " << oracle.size();
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto it = truth.find({found[i].a, found[i].b});
    ASSERT_NE(it, truth.end()) << found[i].a << "," << found[i].b << " is not above 0.6";
    ASSERT_EQ(found[i].similarity, it->second);
    if (i > 0) {
      ASSERT_GE(found[i - 1].similarity, found[i].similarity);
    }
  }
  // Less effort finds less, never something else.
  const auto less = similar_pairs_by_search(*index_, unit_, 0.6f, kOov, 8, 1);
  EXPECT_LE(less.size(), found.size());
  for (const auto& k : keys(less)) EXPECT_TRUE(truth.contains(k));
}

TEST_F(SimilarPairsBySearch, ExcludedRowsAreInNoPair) {
  const std::vector<std::int32_t> excluded{0, 5, 6, 700};
  const auto found = similar_pairs_by_search(ExactIndex(), unit_, 0.7f, excluded, 0, 1);
  expect_same(found, similar_pairs(items_, 0.7f, excluded, 1));
  for (const auto& p : found) {
    for (const auto e : excluded) {
      ASSERT_NE(p.a, e);
      ASSERT_NE(p.b, e);
    }
  }
}

TEST_F(SimilarPairsBySearch, BadArgumentsAreRefused) {
  test::expect_error([&] { similar_pairs_by_search(*index_, unit_, 1.5f); },
                     ErrorKind::InvalidArgument, {"threshold must be in [-1, 1], got 1.5"});
  const std::vector<std::int32_t> unsorted{3, 1};
  test::expect_error([&] { similar_pairs_by_search(*index_, unit_, 0.5f, unsorted); },
                     ErrorKind::InvalidArgument, {"exclude_items must be sorted"});
  test::expect_error([&] { similar_pairs_by_search(*index_, unit_, 0.5f, kOov, -1); },
                     ErrorKind::InvalidArgument, {"ef must be >= 0, got -1"});
  // Fewer than two rows: no pairs.
  EXPECT_TRUE(similar_pairs_by_search(ExactIndex(), Matrix(1, 4), 0.0f).empty());
}

}  // namespace
}  // namespace latent
