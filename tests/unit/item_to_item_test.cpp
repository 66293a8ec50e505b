#include <latent/item_to_item.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/index.hpp>
#include <latent/random.hpp>

#include "detail/search.hpp"

namespace latent {
namespace {

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix m(rows, cols);
  for (auto& v : m.storage()) v = rng.uniform() * 2.0f - 1.0f;
  return m;
}

// A random sparse W over `items` rows (row 0 and column 0 empty), about
// `density` of the other cells set.
ItemToItem random_weights(std::int32_t items, double density, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::int64_t> indptr{0, 0};
  std::vector<std::int32_t> indices;
  std::vector<float> values;
  for (std::int32_t i = 1; i < items; ++i) {
    for (std::int32_t j = 1; j < items; ++j) {
      if (rng.uniform() < density) {
        indices.push_back(j);
        values.push_back(rng.uniform() * 4.0f - 1.0f);
      }
    }
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
  return {items, std::move(indptr), std::move(indices), std::move(values)};
}

// Each query's items: a random handful of item rows.
CsrMatrix random_query_items(std::int32_t queries, std::int32_t items, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  for (std::int32_t q = 0; q < queries; ++q) {
    std::vector<std::int32_t> mine;
    const auto count = static_cast<int>(rng.uniform() * 6);
    for (int c = 0; c < count; ++c)
      mine.push_back(1 + static_cast<std::int32_t>(rng.uniform() * (items - 1)));
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    indices.insert(indices.end(), mine.begin(), mine.end());
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
  return {queries, items, std::move(indptr), std::move(indices)};
}

std::string corruption_of(std::int32_t items, std::vector<std::int64_t> indptr,
                          std::vector<std::int32_t> indices, std::vector<float> values) {
  try {
    ItemToItem(items, std::move(indptr), std::move(indices), std::move(values));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Corruption);
    return e.what();
  }
  return "";
}

TEST(ItemToItem, StoredWeightsAreCheckedAndTheFirstProblemNamed) {
  EXPECT_EQ(corruption_of(3, {0, 0, 1, 2}, {2, 1}, {0.5f, 1.0f}), "");
  EXPECT_NE(corruption_of(3, {0, 0, 1}, {2}, {0.5f}).find("row pointers"), std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 0, 1, 2}, {2, 1}, {0.5f}).find("1 values for 2 entries"),
            std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 1, 1, 1}, {2}, {0.5f}).find("row 0"), std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 0, 2, 2}, {2, 1}, {0.5f, 1.0f}).find("row 1 has column 1"),
            std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 0, 1, 1}, {3}, {0.5f}).find("outside [1, 3)"), std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 0, 1, 1}, {0}, {0.5f}).find("column 0"), std::string::npos);
  EXPECT_NE(corruption_of(4, {0, 0, 2, 1, 2}, {1, 2}, {0.5f, 1.0f}).find("negative length"),
            std::string::npos);
  EXPECT_NE(corruption_of(3, {0, 0, 1, 1}, {2}, {std::nanf("")}).find("nan"), std::string::npos);
}

TEST(ItemToItem, TermSumsTheRowsOfTheQueryItemsOverAnyColumnRange) {
  // W[1] = {2: 0.5, 4: 1}, W[2] = {1: 2, 4: -3}, W[3] = {}.
  const ItemToItem w(5, {0, 0, 2, 4, 4, 4}, {2, 4, 1, 4}, {0.5f, 1.0f, 2.0f, -3.0f});
  const std::vector<std::int32_t> both = {1, 2};
  std::vector<float> out(5, 9.0f);
  w.term(both, {}, 0, out);
  EXPECT_EQ(out, (std::vector<float>{0, 2, 0.5f, 0, -2}));
  std::vector<float> tail(2, 9.0f);
  w.term(both, {}, 3, tail);
  EXPECT_EQ(tail, (std::vector<float>{0, -2}));
  const std::vector<std::int32_t> none = {};
  w.term(none, {}, 0, out);
  EXPECT_EQ(out, std::vector<float>(5, 0.0f));
  ItemToItem empty;
  EXPECT_TRUE(empty.empty());
}

TEST(ItemToItem, QueryWeightsScaleTheirItemsRows) {
  const ItemToItem w(5, {0, 0, 2, 4, 4, 4}, {2, 4, 1, 4}, {0.5f, 1.0f, 2.0f, -3.0f});
  const std::vector<std::int32_t> both = {1, 2};
  const std::vector<float> x = {2.0f, 0.5f};
  std::vector<float> out(5, 9.0f);
  w.term(both, x, 0, out);
  EXPECT_EQ(out, (std::vector<float>{0, 1, 1, 0, 0.5f}));
}

TEST(ItemToItem, DenseWeightsGiveTheSameTermAsTheirSparseEntries) {
  // The sparse W of the test above, as 5 x 5 floats.
  const ItemToItem sparse(5, {0, 0, 2, 4, 4, 4}, {2, 4, 1, 4}, {0.5f, 1.0f, 2.0f, -3.0f});
  std::vector<float> values(25, 0.0f);
  values[1 * 5 + 2] = 0.5f;
  values[1 * 5 + 4] = 1.0f;
  values[2 * 5 + 1] = 2.0f;
  values[2 * 5 + 4] = -3.0f;
  const ItemToItem dense = ItemToItem::dense(5, values);
  EXPECT_TRUE(dense.is_dense());
  EXPECT_FALSE(sparse.is_dense());
  EXPECT_EQ(dense.nnz(), 25);
  const std::vector<std::int32_t> queries[] = {{1, 2}, {2}, {}, {0, 3}};
  const std::vector<float> x = {2.0f, 0.5f};
  for (const auto& q : queries) {
    for (std::int64_t first : {0, 1, 3}) {
      std::vector<float> a(static_cast<std::size_t>(5 - first), 9.0f);
      std::vector<float> b(a.size(), 7.0f);
      sparse.term(q, {}, first, a);
      dense.term(q, {}, first, b);
      EXPECT_EQ(a, b) << "first " << first;
      if (q.size() == 2) {
        sparse.term(q, x, first, a);
        dense.term(q, x, first, b);
        EXPECT_EQ(a, b) << "weighted, first " << first;
      }
    }
  }
}

TEST(ItemToItem, DenseWeightsAreCheckedAsStoredData) {
  const auto corruption_of = [](std::int32_t items, std::vector<float> values) {
    try {
      ItemToItem::dense(items, std::move(values));
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Corruption);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(corruption_of(3, std::vector<float>(8)).find("8 dense values for 3 x 3"),
            std::string::npos);
  std::vector<float> v(9, 0.0f);
  v[1] = 1.0f;
  EXPECT_NE(corruption_of(3, v).find("row 0"), std::string::npos);
  v.assign(9, 0.0f);
  v[2 * 3 + 0] = 1.0f;
  EXPECT_NE(corruption_of(3, v).find("row 2 has a weight for the OOV item"), std::string::npos);
  v.assign(9, 0.0f);
  v[1 * 3 + 2] = std::numeric_limits<float>::infinity();
  EXPECT_NE(corruption_of(3, v).find("row 1 column 2 has the value inf"), std::string::npos);
  EXPECT_EQ(corruption_of(3, std::vector<float>(9, 0.0f)), "no error");
}

// The score of record of a query and an item under a term: the fixed-order
// dot product, plus the term summed in its fixed order.
float record(const Matrix& queries, std::int64_t q, const Matrix& items, std::int32_t j,
             const std::vector<float>& term) {
  return detail::score_of_record(queries.row(q).data(), items.row(j).data(), items.cols()) +
         term[static_cast<std::size_t>(j)];
}

// top_k with a term returns what ranking every item by its score of record
// returns (ties by the lower item), with exclusions, for a single query
// (scored directly), a few, and more than one row block (screened by sgemm).
TEST(TopKWithItemTerm, MatchesRankingEveryItemByItsScoreOfRecord) {
  const std::int32_t n = 300;
  const Matrix items = random_matrix(n, 16, 1);
  const ItemToItem w = random_weights(n, 0.1, 2);
  for (const std::int32_t nq : {1, 3, 40, 600}) {
    const Matrix queries = random_matrix(nq, 16, 3 + static_cast<std::uint64_t>(nq));
    const CsrMatrix query_items = random_query_items(nq, n, 4);
    std::vector<std::int32_t> row_of(static_cast<std::size_t>(nq));
    for (std::int32_t q = 0; q < nq; ++q) row_of[static_cast<std::size_t>(q)] = q;
    const std::vector<std::int32_t> oov = {0, 7};
    for (const int threads : {1, 2}) {
      SearchOptions options;
      options.k = 12;
      options.threads = threads;
      options.exclude_items = oov;
      options.exclude_rows = &query_items;  // a user's own items never come back
      options.exclude_row_of = row_of;
      options.item_term = {&w, &query_items, row_of, {}};
      const TopK top = top_k(queries, items, options);
      for (std::int32_t q = 0; q < nq; ++q) {
        std::vector<float> term(static_cast<std::size_t>(n));
        w.term(query_items.row(q), {}, 0, term);
        std::vector<std::pair<float, std::int32_t>> all;
        for (std::int32_t j = 0; j < n; ++j) {
          const auto own = query_items.row(q);
          if (j == 0 || j == 7 || std::binary_search(own.begin(), own.end(), j)) continue;
          all.emplace_back(record(queries, q, items, j, term), j);
        }
        std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
          return x.first > y.first || (x.first == y.first && x.second < y.second);
        });
        for (int i = 0; i < options.k; ++i) {
          ASSERT_EQ(top.items[static_cast<std::size_t>(q * options.k + i)],
                    all[static_cast<std::size_t>(i)].second)
              << nq << " queries, query " << q << " rank " << i << ", " << threads << " threads";
          ASSERT_EQ(top.scores[static_cast<std::size_t>(q * options.k + i)],
                    all[static_cast<std::size_t>(i)].first);
        }
      }
    }
  }
}

// The term changes the answer: without it the same search ranks otherwise.
TEST(TopKWithItemTerm, ATermThatDominatesDecidesTheRanking) {
  const Matrix items = random_matrix(50, 8, 5);
  const Matrix queries = random_matrix(1, 8, 6);
  // Item 1 links item 42 with a weight far above any dot product.
  std::vector<std::int64_t> indptr(51, 1);
  indptr[0] = 0;
  indptr[1] = 0;
  const ItemToItem w(50, indptr, {42}, {100.0f});
  const CsrMatrix query_items(1, 50, {0, 1}, {1});
  const std::vector<std::int32_t> row_of = {0};
  SearchOptions options;
  options.k = 1;
  const TopK plain = top_k(queries, items, options);
  EXPECT_NE(plain.items[0], 42);
  options.item_term = {&w, &query_items, row_of, {}};
  const TopK with = top_k(queries, items, options);
  EXPECT_EQ(with.items[0], 42);
}

TEST(ScoreBlocksWithItemTerm, EveryScoreIsTheScoreOfRecord) {
  const std::int32_t n = 70;
  const Matrix items = random_matrix(n, 12, 7);
  const Matrix queries = random_matrix(33, 12, 8);
  const ItemToItem w = random_weights(n, 0.2, 9);
  const CsrMatrix query_items = random_query_items(33, n, 10);
  std::vector<std::int32_t> row_of(33);
  for (std::int32_t q = 0; q < 33; ++q) row_of[static_cast<std::size_t>(q)] = q;
  const ItemTerm term{&w, &query_items, row_of, {}};
  std::int64_t rows_seen = 0;
  score_blocks(
      queries, items, 8,
      [&](std::int64_t first, std::int64_t rows, std::span<const float> block) {
        for (std::int64_t r = 0; r < rows; ++r) {
          std::vector<float> t(static_cast<std::size_t>(n));
          w.term(query_items.row(static_cast<std::int32_t>(first + r)), {}, 0, t);
          for (std::int32_t j = 0; j < n; ++j) {
            ASSERT_EQ(block[static_cast<std::size_t>(r * n + j)],
                      record(queries, first + r, items, j, t));
          }
        }
        rows_seen += rows;
      },
      2, term);
  EXPECT_EQ(rows_seen, 33);
}

TEST(TopKWithItemTerm, AnIncompleteTermIsRefused) {
  const Matrix items = random_matrix(10, 4, 11);
  const Matrix queries = random_matrix(2, 4, 12);
  const ItemToItem w = random_weights(10, 0.3, 13);
  const ItemToItem other = random_weights(9, 0.3, 13);
  const CsrMatrix query_items = random_query_items(2, 10, 14);
  const std::vector<std::int32_t> two = {0, 1}, one = {0}, far = {0, 5};
  const auto message = [&](const ItemTerm& term) -> std::string {
    SearchOptions options;
    options.item_term = term;
    try {
      top_k(queries, items, options);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message({&w, &query_items, two, {}}), "");
  EXPECT_NE(message({&w, nullptr, two, {}}).find("items of each of the 2 queries"),
            std::string::npos);
  EXPECT_NE(message({&w, &query_items, one, {}}).find("2 queries"), std::string::npos);
  EXPECT_NE(message({&other, &query_items, two, {}}).find("over 9 items, but there are 10"),
            std::string::npos);
  EXPECT_NE(message({&w, &query_items, far, {}}).find("row 5 outside [0, 2)"), std::string::npos);
  const std::vector<float> short_weights(static_cast<std::size_t>(query_items.nnz()) + 1, 1.0f);
  EXPECT_NE(message({&w, &query_items, two, short_weights}).find("item weights for"),
            std::string::npos);
}

}  // namespace
}  // namespace latent
