// HnswIndex (include/latent/hnsw_index.hpp) against the exact search as the
// oracle: the same answers at full effort, high recall at the default, the
// filters, and its companion file refused when damaged or not the model's.

#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <latent/error.hpp>
#include <latent/hnsw_index.hpp>
#include <latent/vector_index.hpp>

#include "detail/search.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

// Vectors whose norms vary (0.2x to 3x), as recommender vectors' do: the
// largest norms dominate the top-K by inner product.
Matrix random_items(std::int64_t rows, std::int64_t dim, unsigned seed) {
  Matrix m(rows, dim);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> scale(0.2f, 3.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float s = scale(rng);
    for (float& v : m.row(r)) v = s * normal(rng);
  }
  return m;
}

HnswParams one_thread() {
  HnswParams p;
  p.threads = 1;
  return p;
}

const std::vector<std::int32_t> kOov{0};  // callers never want the OOV row

SearchOptions top(int k, int ef = 0) {
  SearchOptions o;
  o.k = k;
  o.exclude_items = kOov;
  o.ef = ef;
  o.threads = 1;
  return o;
}

double recall(const TopK& approx, const TopK& exact) {
  std::int64_t hits = 0, total = 0;
  for (std::int64_t q = 0; q < exact.queries; ++q) {
    std::set<std::int32_t> truth;
    for (int j = 0; j < exact.k; ++j) {
      const auto item = exact.items[static_cast<std::size_t>(q * exact.k + j)];
      if (item >= 0) truth.insert(item);
    }
    for (int j = 0; j < approx.k; ++j) {
      hits += truth.count(approx.items[static_cast<std::size_t>(q * approx.k + j)]);
    }
    total += static_cast<std::int64_t>(truth.size());
  }
  return total ? static_cast<double>(hits) / static_cast<double>(total) : 1.0;
}

// Per user, `per_user` distinct random rows of 1..items-1: the users' seen
// items, as a model's seen CSR holds them.
CsrMatrix random_seen(std::int32_t users, std::size_t per_user, std::int32_t items,
                      std::mt19937& rng) {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> columns;
  for (std::int32_t u = 0; u < users; ++u) {
    std::set<std::int32_t> seen;
    while (seen.size() < per_user) seen.insert(1 + static_cast<std::int32_t>(rng() % (items - 1)));
    columns.insert(columns.end(), seen.begin(), seen.end());
    offsets.push_back(static_cast<std::int64_t>(columns.size()));
  }
  return CsrMatrix(users, items, std::move(offsets), std::move(columns));
}

class HnswIndexTest : public ::testing::Test {
 protected:
  const Matrix items_ = random_items(2001, 16, 1);
  const Matrix queries_ = random_items(200, 16, 2);
  const std::unique_ptr<HnswIndex> index_ = HnswIndex::build(items_, one_thread());
  const ExactIndex exact_;
};

// The search's bounded set of best items replaces its worst in one pass
// down the heap: after each replacement the heap is a heap and holds what a
// pop_heap then push_heap would, for heaps of every size up to 40.
TEST(ReplaceTop, IsAPopAndAPushInOnePass) {
  std::mt19937 rng(5);
  for (std::size_t size = 1; size <= 40; ++size) {
    std::vector<int> heap(size), reference;
    for (int& v : heap) v = static_cast<int>(rng() % 1000);
    std::make_heap(heap.begin(), heap.end());
    reference = heap;
    for (int round = 0; round < 200; ++round) {
      const int value = static_cast<int>(rng() % 1000);
      detail::replace_top(heap, value, std::less<>{});
      std::pop_heap(reference.begin(), reference.end());
      reference.back() = value;
      std::push_heap(reference.begin(), reference.end());
      ASSERT_TRUE(std::is_heap(heap.begin(), heap.end())) << "size " << size << ", round " << round;
      std::vector<int> a = heap, b = reference;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      ASSERT_EQ(a, b) << "size " << size << ", round " << round;
    }
  }
  std::vector<int> empty;
  detail::replace_top(empty, 1, std::less<>{});
  EXPECT_TRUE(empty.empty());
}

TEST_F(HnswIndexTest, FullEffortGivesTheExactAnswerBitForBit) {
  const TopK a = index_->search(items_, queries_, top(10, 2001));
  const TopK e = exact_.search(items_, queries_, top(10));
  EXPECT_EQ(a.items, e.items);
  EXPECT_EQ(a.scores, e.scores);
}

TEST(HnswIndexReach, FullEffortFindsItemsTheNeighbourSelectionDropped) {
  // Small lists (m 2: four links per item) over norms 0.02-5x apart: the
  // neighbour selection drops short items from every list that linked to
  // them. The build links each such item back in, so full effort still
  // finds every item the exact search finds.
  Matrix items(3001, 8);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> log_norm(std::log(0.02f), std::log(5.0f));
  for (std::int64_t r = 0; r < items.rows(); ++r) {
    const float s = std::exp(log_norm(rng));
    for (float& v : items.row(r)) v = s * normal(rng);
  }
  HnswParams p = one_thread();
  p.m = 2;
  p.ef_construction = 16;
  const auto index = HnswIndex::build(items, p);
  const Matrix queries = random_items(300, 8, 8);
  const TopK a = index->search(items, queries, top(10, 3001));
  const TopK e = ExactIndex().search(items, queries, top(10));
  EXPECT_EQ(a.items, e.items);
  EXPECT_EQ(a.scores, e.scores);
}

TEST_F(HnswIndexTest, DefaultEffortFindsAlmostAllAndNeverMisreports) {
  // Gaussian vectors of 16 dimensions with norms 0.2-3x apart are a hard
  // case (real factors have structure); the default effort still finds 9 in
  // 10, and more effort finds more.
  const TopK a = index_->search(items_, queries_, top(10));
  const TopK e = exact_.search(items_, queries_, top(10));
  EXPECT_GE(recall(a, e), 0.88);
  EXPECT_LE(recall(index_->search(items_, queries_, top(10, 10)), e), recall(a, e));
  EXPECT_GE(recall(index_->search(items_, queries_, top(10, 256)), e), 0.98);
  // Every score is the exact search's score of that pair; rows best first.
  const TopK all = exact_.search(items_, queries_, top(2001));
  for (std::int64_t q = 0; q < a.queries; ++q) {
    std::map<std::int32_t, float> score_of;
    for (int t = 0; t < all.k; ++t) {
      const auto i = static_cast<std::size_t>(q * all.k + t);
      score_of[all.items[i]] = all.scores[i];
    }
    for (int j = 0; j < 10; ++j) {
      const auto i = static_cast<std::size_t>(q * 10 + j);
      ASSERT_GT(a.items[i], 0);  // never OOV, never padding
      ASSERT_EQ(a.scores[i], score_of.at(a.items[i])) << "query " << q << " item " << a.items[i];
      if (j > 0) {
        ASSERT_GE(a.scores[i - 1], a.scores[i]);
      }
    }
  }
}

TEST_F(HnswIndexTest, FiltersAreNeverBrokenAndStillGiveKResults) {
  // Every third item excluded for all, and per query a "seen" row of 300 items.
  std::vector<std::int32_t> excluded{0};
  for (std::int32_t r = 3; r < 2001; r += 3) excluded.push_back(r);
  std::mt19937 rng(5);
  const CsrMatrix seen_rows = random_seen(2, 300, 2001, rng);
  std::vector<std::int32_t> row_of(200);
  for (std::size_t q = 0; q < row_of.size(); ++q) row_of[q] = static_cast<std::int32_t>(q % 2);
  SearchOptions o = top(10);
  o.exclude_items = excluded;
  o.exclude_rows = &seen_rows;
  o.exclude_row_of = row_of;
  const TopK a = index_->search(items_, queries_, o);
  const TopK e = exact_.search(items_, queries_, o);
  for (std::int64_t q = 0; q < a.queries; ++q) {
    const auto s = seen_rows.row(row_of[static_cast<std::size_t>(q)]);
    for (int j = 0; j < 10; ++j) {
      const auto item = a.items[static_cast<std::size_t>(q * 10 + j)];
      ASSERT_GT(item, 0) << "fewer than k results for query " << q;
      ASSERT_NE(item % 3, 0) << item;
      ASSERT_FALSE(std::binary_search(s.begin(), s.end(), item)) << item;
    }
  }
  EXPECT_GE(recall(a, e), 0.88);
  o.ef = 2001;
  EXPECT_EQ(index_->search(items_, queries_, o).items, e.items);

  // Almost everything excluded (an allow list of five items): still exactly those five.
  std::vector<std::int32_t> all_but_five{0};
  for (std::int32_t r = 1; r < 2001; ++r) {
    if (r % 400 != 7) all_but_five.push_back(r);
  }
  SearchOptions few = top(10);
  few.exclude_items = all_but_five;
  const TopK f = index_->search(items_, queries_, few);
  EXPECT_EQ(f.items, exact_.search(items_, queries_, few).items);
  EXPECT_EQ(f.items[5], -1);  // padding after the five
}

// The search skips links whose norm bounds their score below what they
// could displace; the walk must be the one scoring every link. Norms 100x
// apart (most of a long item's links lead to short ones, as with a
// two-tower model's items), every effort, with and without filters. Few
// dimensions and queries near items make near-parallel pairs common, whose
// scores come close to the bound: a bound a fifth too low fails here.
TEST(HnswIndexNormBound, SkippingLinksByNormChangesNoResult) {
  Matrix items = random_items(3001, 6, 21);
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> scale(0.03f, 1.0f);
  for (std::int64_t r = 0; r < items.rows(); ++r) {
    const float s = scale(rng) * scale(rng);
    for (float& v : items.row(r)) v = v * s + 0.05f;  // off-centre: the codes' sums cancel
  }
  Matrix queries(300, 6);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (std::int64_t q = 0; q < queries.rows(); ++q) {
    const auto near = items.row(1 + q * 10);
    for (std::int64_t j = 0; j < 6; ++j) queries.row(q)[j] = near[j] * 3.0f + noise(rng);
  }
  const auto index = HnswIndex::build(items, one_thread());
  const CsrMatrix seen_rows = random_seen(3, 200, 3001, rng);
  std::vector<std::int32_t> row_of(300);
  for (std::size_t q = 0; q < row_of.size(); ++q) row_of[q] = static_cast<std::int32_t>(q % 3);
  for (const int ef : {1, 10, 16, 64, 300}) {
    for (const bool filtered : {false, true}) {
      SearchOptions o = top(10, ef);
      if (filtered) {
        o.exclude_rows = &seen_rows;
        o.exclude_row_of = row_of;
      }
      const TopK bounded = index->search(items, queries, o);
      const TopK every = index->search_every_link(items, queries, o);
      EXPECT_EQ(bounded.items, every.items) << "ef " << ef << (filtered ? ", filtered" : "");
      EXPECT_EQ(bounded.scores, every.scores) << "ef " << ef << (filtered ? ", filtered" : "");
    }
  }
  // And the walk is worth something: the exact top 10, mostly.
  const ExactIndex exact;
  EXPECT_GE(
      recall(index->search(items, queries, top(10, 64)), exact.search(items, queries, top(10))),
      0.9);
}

TEST_F(HnswIndexTest, AnswersAsTheExactSearchAtTheEdges) {
  // k beyond the catalog: padded as top_k pads.
  const Matrix q2(2, 16, std::vector<float>(queries_.data(), queries_.data() + 32));
  EXPECT_EQ(index_->search(items_, q2, top(2050, 2050)).items,
            exact_.search(items_, q2, top(2050)).items);
  // A query with a NaN: no score is comparable, nothing is returned.
  Matrix nan_query(1, 16);
  nan_query.row(0)[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(index_->search(items_, nan_query, top(3)).items,
            (std::vector<std::int32_t>{-1, -1, -1}));
  // Bad arguments, as the exact search names them.
  EXPECT_THROW(index_->search(items_, q2, top(0)), Error);
  EXPECT_THROW(index_->search(items_, q2, top(5, -1)), Error);
  const Matrix other = random_items(2001, 8, 3);
  EXPECT_THROW(index_->search(other, Matrix(1, 8), top(5)), Error);
  // An empty catalog (the OOV row alone) and one item.
  const Matrix oov_only(1, 4);
  EXPECT_EQ(HnswIndex::build(oov_only, one_thread())->search(oov_only, Matrix(1, 4), top(2)).items,
            (std::vector<std::int32_t>{-1, -1}));
  const Matrix one_item = random_items(2, 4, 9);
  EXPECT_EQ(HnswIndex::build(one_item, one_thread())
                ->search(one_item, Matrix(1, 4, {1, 1, 1, 1}), top(2))
                .items,
            (std::vector<std::int32_t>{1, -1}));
}

TEST(HnswIndexBuild, RefusesBadParametersAndNonFiniteVectors) {
  Matrix items = random_items(50, 4, 4);
  HnswParams p = one_thread();
  p.m = 1;
  EXPECT_THROW(HnswIndex::build(items, p), Error);
  p = one_thread();
  p.ef_search = 0;
  EXPECT_THROW(HnswIndex::build(items, p), Error);
  items.row(17)[2] = std::numeric_limits<float>::infinity();
  try {
    HnswIndex::build(items, one_thread());
    FAIL() << "built over an infinite vector";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("item row 17"), std::string::npos) << e.what();
  }
}

TEST(HnswIndexBuild, TwoThreadsBuildAGraphAsGood) {
  const Matrix items = random_items(3001, 16, 6);
  const Matrix queries = random_items(100, 16, 7);
  HnswParams p;
  p.threads = 2;
  const auto index = HnswIndex::build(items, p);
  EXPECT_GE(recall(index->search(items, queries, top(10, 256)),
                   ExactIndex().search(items, queries, top(10))),
            0.97);
}

// ----- the companion file -----

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// The file with its checksum made right again after an edit.
std::string with_checksum(std::string bytes) {
  const std::uint64_t sum = XXH64(bytes.data(), bytes.size() - 8, 0);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  return bytes;
}

std::string load_error(const std::filesystem::path& p, const Matrix& items, ErrorKind kind) {
  try {
    HnswIndex::load(p, items);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "loaded";
  return "";
}

TEST_F(HnswIndexTest, SavedAndLoadedItAnswersTheSame) {
  test::TempDir dir;
  const auto path = dir / "m.latent.index";
  index_->save(path, items_);
  const auto loaded = HnswIndex::load(path, items_);
  EXPECT_EQ(loaded->params().m, index_->params().m);
  EXPECT_EQ(loaded->bytes(), index_->bytes());
  const TopK a = index_->search(items_, queries_, top(10));
  const TopK b = loaded->search(items_, queries_, top(10));
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(index_path_for("dir/m.latent"), std::filesystem::path("dir/m.latent.index"));
}

TEST_F(HnswIndexTest, DamagedOrForeignFilesAreRefusedByName) {
  test::TempDir dir;
  const auto path = dir / "m.latent.index";
  index_->save(path, items_);
  const std::string good = read_all(path);

  write_all(path, good.substr(0, good.size() / 2));
  EXPECT_NE(load_error(path, items_, ErrorKind::Corruption).find("do not add up"),
            std::string::npos);
  write_all(path, good.substr(0, 40));
  EXPECT_NE(load_error(path, items_, ErrorKind::Corruption).find("truncated"), std::string::npos);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  write_all(path, flipped);
  EXPECT_NE(load_error(path, items_, ErrorKind::Corruption).find("checksum"), std::string::npos);
  write_all(path, "user,item\n1,2\n");
  EXPECT_NE(load_error(path, items_, ErrorKind::Corruption).find("latent index header"),
            std::string::npos);

  std::string newer = good;
  newer[8] = 2;  // the format version
  write_all(path, with_checksum(newer));
  EXPECT_NE(load_error(path, items_, ErrorKind::Unsupported).find("format version 2"),
            std::string::npos);

  // A link out of range, with a checksum that matches: the graph check refuses it.
  std::string bad_link = good;
  const std::size_t level0 = 96 + 2001 * 4;                // after the header and levels
  const std::size_t row5 = level0 + 5 * (2 * 16 + 1) * 4;  // row 5's level-0 list
  const std::int32_t far = 99999;
  std::memcpy(bad_link.data() + row5 + 4, &far, 4);
  write_all(path, with_checksum(bad_link));
  EXPECT_NE(load_error(path, items_, ErrorKind::Corruption).find("item row 99999"),
            std::string::npos);

  write_all(path, good);
  Matrix retrained = items_;
  retrained.row(100)[0] += 1.0f;
  EXPECT_NE(load_error(path, retrained, ErrorKind::InvalidArgument).find("other item vectors"),
            std::string::npos);
  EXPECT_NE(
      load_error(path, random_items(2001, 8, 1), ErrorKind::InvalidArgument).find("dimension 16"),
      std::string::npos);
  const auto missing = dir / "none.index";
  EXPECT_THROW(HnswIndex::load(missing, items_), Error);
}

TEST_F(HnswIndexTest, AFailedSaveLeavesTheFileThatWasThere) {
  test::TempDir dir;
  const auto path = dir / "m.latent.index";
  index_->save(path, items_);
  const std::string good = read_all(path);
  EXPECT_THROW(index_->save(path, random_items(2001, 8, 1)), Error);  // not its items
  EXPECT_EQ(read_all(path), good);
}

}  // namespace
}  // namespace latent
