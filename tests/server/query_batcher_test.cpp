// Concurrent requests merged into one search answer exactly what each
// would get on its own.
#include <gtest/gtest.h>

#include <atomic>

#include <latent/random.hpp>

#include <query_batcher.hpp>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

TEST(QueryBatcher, ConcurrentCallsGetTheirOwnExactAnswers) {
  const auto model = std::make_shared<const Recommender>(tiny_model());
  server::QueryBatcher batcher(2, 16);
  constexpr int kThreads = 8, kCalls = 60;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Rng rng(static_cast<std::uint64_t>(t) + 1);
      for (int i = 0; i < kCalls; ++i) {
        // 1..3 users, k 3 or 5, with and without seen items.
        std::vector<std::int32_t> rows;
        const auto n = 1 + rng.below(3);
        for (std::uint64_t j = 0; j < n; ++j)
          rows.push_back(static_cast<std::int32_t>(1 + rng.below(30)));
        const int k = rng.below(2) ? 3 : 5;
        const bool exclude_seen = rng.below(2) == 1;
        const TopK merged = batcher.recommend(model, rows, k, exclude_seen);
        const TopK direct = model->recommend(rows, k, exclude_seen, 1);
        if (merged.queries != direct.queries || merged.k != direct.k ||
            merged.items != direct.items || merged.scores != direct.scores) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GE(batcher.searches(), 1u);
  EXPECT_LE(batcher.searches(), static_cast<std::uint64_t>(kThreads * kCalls));
  EXPECT_GE(batcher.queries(), static_cast<std::uint64_t>(kThreads * kCalls));
}

TEST(QueryBatcher, AnErrorReachesEveryCallerOfItsBatch) {
  const auto model = std::make_shared<const Recommender>(tiny_model());
  server::QueryBatcher batcher(1);
  const std::int32_t bad = 999;
  expect_error([&] { batcher.recommend(model, std::span(&bad, 1), 3, false); },
               ErrorKind::InvalidArgument, {"user row 999 out of range"});
  const std::int32_t good = 1;
  EXPECT_EQ(batcher.recommend(model, std::span(&good, 1), 3, false).queries, 1);
}

TEST(QueryBatcher, MergedPredictOverHttpAnswersLikeTheLibrary) {
  TempDir dir;
  const auto file = save_version(dir / "movies", 1, tiny_model());
  const Recommender oracle = Recommender::load(file);
  server::Limits limits;
  limits.batch_min_items = 0;  // merge on this tiny catalog too
  TestServer server(dir / "movies", limits);
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      auto c = server.client();
      for (int i = 0; i < 40; ++i) {
        const std::string user = fmt::format("u{}", 1 + (t * 7 + i) % 30);
        const Reply r = post(c, "/v1/models/movies:predict", json{{"instances", {user}}});
        if (r.status != 200) {
          ++failed;
          continue;
        }
        const std::int32_t row = oracle.user_row(user);
        const TopK top = oracle.recommend(std::span(&row, 1), 10, false);
        const json& p = r.body["predictions"][0];
        for (int j = 0; j < 10; ++j) {
          if (p["output_2"][static_cast<std::size_t>(j)] !=
                  oracle.item_id(top.items[static_cast<std::size_t>(j)]) ||
              as_float(p["output_1"][static_cast<std::size_t>(j)]) !=
                  top.scores[static_cast<std::size_t>(j)]) {
            ++wrong;
          }
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  auto c = server.client();
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("latent_search_batched_queries_total 240\n"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace latent::test
