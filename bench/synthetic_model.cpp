// latent_synthetic_model: writes a model file with random embeddings for a
// catalog of any size, to measure serving (memory, exact-search latency)
// where no real data set of that size is at hand. Ids are "1".."N" for both
// users and items; vectors are uniform in [-1, 1) from a seeded Rng; no
// seen items. The model is a plain two-tower model file, so `latent serve`
// and every command treat it like a trained one.
//
//   build/bench/latent_synthetic_model --items 1000000 --users 10000 --out big.latent
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <latent/error.hpp>
#include <latent/random.hpp>
#include <latent/recommender.hpp>

namespace {

latent::Vocabulary numbered(std::int64_t n) {
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 1; i <= n; ++i) ids.push_back(std::to_string(i));
  return latent::Vocabulary::from_ordered(std::move(ids), latent::Vocabulary::IdKind::Integer);
}

latent::Matrix random_rows(std::int64_t rows, std::int64_t dim, latent::Rng& rng) {
  latent::Matrix m(rows, dim);
  for (std::int64_t r = 1; r < rows; ++r) {  // row 0 (OOV) stays zero
    for (float& v : m.row(r)) v = 2.0f * rng.uniform() - 1.0f;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a model file with random embeddings (for serving benchmarks)"};
  std::int64_t items = 1'000'000, users = 10'000, dim = 64;
  std::uint64_t seed = 42;
  std::string out;
  app.add_option("--items", items, "Items in the catalog")->capture_default_str();
  app.add_option("--users", users, "Users")->capture_default_str();
  app.add_option("--dim", dim, "Embedding dimension")->capture_default_str();
  app.add_option("--seed", seed, "Seed")->capture_default_str();
  app.add_option("--out", out, "Model file to write")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (items < 1 || users < 1 || dim < 1 || items >= (1LL << 31) - 1 || users >= (1LL << 31) - 1) {
      throw latent::Error(latent::ErrorKind::InvalidArgument,
                          "--items and --users must be in [1, 2^31 - 2], --dim >= 1");
    }
    latent::Rng rng(seed);
    latent::ModelData m;
    m.kind = "two-tower";
    m.config = nlohmann::json::object();
    m.training = {
        {"source", fmt::format("latent_synthetic_model --items {} --users {} --dim {} --seed {}",
                               items, users, dim, seed)}};
    m.users = numbered(users);
    m.items = numbered(items);
    m.user_embeddings = random_rows(users + 1, dim, rng);
    m.item_embeddings = random_rows(items + 1, dim, rng);
    m.seen = latent::CsrMatrix(
        static_cast<std::int32_t>(users + 1), static_cast<std::int32_t>(items + 1),
        std::vector<std::int64_t>(static_cast<std::size_t>(users + 2), 0), {});
    latent::save_model(out, m);
    fmt::print("{}: {} users, {} items, dim {}\n", out, users, items, dim);
  } catch (const latent::Error& e) {
    fmt::print(stderr, "latent_synthetic_model: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
