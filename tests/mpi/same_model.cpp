// same_model A B [TOLERANCE]: whether two model files hold the same model,
// as a distributed run must give what one process gives (tests/CMakeLists.txt
// runs it after training the same data with mpirun and without). The kind,
// config, vocabularies, titles and seen items must be equal; the vectors,
// the item-to-item term, the seen weights and the rating head's layers
// equal bit for bit, or with TOLERANCE (relative to the largest magnitude
// of each tensor) within it.
// Prints the largest difference of each tensor; exit 0 when they match.
//
// same_model A B --quality TEST_CSV WITHIN: for models trained from other
// draws of the same training (two-tower on several ranks), the same
// vocabularies and seen items, and FactorizedTopK@100 on the (user, item)
// pairs of TEST_CSV within WITHIN of each other (and with a rating head,
// the RMSE of its ratings). Towers' feature encoders must agree: the same
// columns, vocabularies and bucket boundaries, their means and deviations
// within 1e-9 relative (sums of every rank's values in another order).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/evaluation.hpp>
#include <latent/features.hpp>
#include <latent/model_file.hpp>
#include <latent/tower.hpp>

namespace {

bool ok = true;

void require(bool same, const std::string& what) {
  if (!same) {
    fmt::print("differ: {}\n", what);
    ok = false;
  }
}

void compare(std::span<const float> a, std::span<const float> b, const char* what,
             double tolerance) {
  if (a.size() != b.size()) {
    require(false, fmt::format("{}: {} values against {}", what, a.size(), b.size()));
    return;
  }
  double largest = 0, scale = 0;
  std::size_t bits = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    largest = std::max(largest, std::abs(static_cast<double>(a[k]) - b[k]));
    scale = std::max(scale, std::abs(static_cast<double>(a[k])));
    bits += a[k] != b[k] || std::signbit(a[k]) != std::signbit(b[k]);
  }
  const double relative = scale > 0 ? largest / scale : largest;
  fmt::print("{}: {} values, {} differ, largest difference {:.3g} ({:.3g} relative)\n", what,
             a.size(), bits, largest, relative);
  require(tolerance == 0 ? bits == 0 : relative <= tolerance, what);
}

// The test file's pairs of `model`'s known users and items, on its rows,
// with their ratings.
latent::Interactions known_pairs(const latent::ModelData& model, const latent::Dataset& test) {
  latent::Interactions pairs;
  pairs.num_users = model.users.size();
  pairs.num_items = model.items.size();
  for (std::size_t k = 0; k < test.interactions.size(); ++k) {
    const auto user = model.users.find(test.users.ids()[test.interactions.users[k] - 1]);
    const auto item = model.items.find(test.items.ids()[test.interactions.items[k] - 1]);
    if (!user || !item) continue;
    pairs.users.push_back(*user);
    pairs.items.push_back(*item);
    if (!test.interactions.ratings.empty()) pairs.ratings.push_back(test.interactions.ratings[k]);
  }
  return pairs;
}

// FactorizedTopK@100 of `model` on the test file's pairs of known users and items.
double top_100(const latent::ModelData& model, const latent::Dataset& test) {
  return latent::factorized_top_k(model.user_embeddings, model.item_embeddings,
                                  known_pairs(model, test), {100})
      .accuracy.at(0);
}

// The RMSE of `model`'s rating head on those pairs.
double rmse(const latent::ModelData& model, const latent::Dataset& test) {
  const latent::Interactions pairs = known_pairs(model, test);
  return model.rating_head->rmse(model.user_embeddings, pairs.users, model.item_embeddings,
                                 pairs.items, pairs.ratings, 1);
}

// The encoders of two towers of a side (either may be absent).
void compare_encoders(const std::optional<latent::FeatureTower>& a,
                      const std::optional<latent::FeatureTower>& b, const char* side) {
  require(a.has_value() == b.has_value(), fmt::format("{} tower", side));
  if (!a || !b) return;
  const auto ca = a->encoder.columns(), cb = b->encoder.columns();
  require(ca.size() == cb.size(), fmt::format("{} tower's feature columns", side));
  const auto close = [](double x, double y) {
    return std::abs(x - y) <= 1e-9 * std::max(std::abs(x), std::abs(y));
  };
  for (std::size_t c = 0; c < ca.size() && c < cb.size(); ++c) {
    const latent::ColumnEncoding &x = ca[c], &y = cb[c];
    const std::string what = fmt::format("{} feature column {}", side, x.column.to_string());
    require(x.column.to_string() == y.column.to_string(), what);
    require(std::ranges::equal(x.vocabulary.ids(), y.vocabulary.ids()), what + ": vocabulary");
    require(x.boundaries == y.boundaries, what + ": bucket boundaries");
    require(x.fitted == y.fitted, what + ": values fitted");
    require(close(x.mean, y.mean) && close(x.std, y.std), what + ": mean and deviation");
    fmt::print("{}: {} bucket boundaries, mean {} and {}\n", what, x.boundaries.size(), x.mean,
               y.mean);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quality = argc == 6 && std::string(argv[3]) == "--quality";
  if (!quality && (argc < 3 || argc > 4)) {
    std::fprintf(stderr, "usage: same_model A B [TOLERANCE | --quality TEST_CSV WITHIN]\n");
    return 2;
  }
  const double tolerance = argc == 4 ? std::atof(argv[3]) : 0.0;
  const latent::ModelData a = latent::load_model(argv[1]);
  const latent::ModelData b = latent::load_model(argv[2]);
  if (quality) {
    require(a.kind == b.kind && a.config == b.config, "kind and config");
    require(std::ranges::equal(a.users.ids(), b.users.ids()), "user vocabulary");
    require(std::ranges::equal(a.items.ids(), b.items.ids()), "item vocabulary");
    require(a.seen == b.seen, "seen items");
    compare_encoders(a.user_tower, b.user_tower, "user");
    compare_encoders(a.item_tower, b.item_tower, "item");
    latent::LoadOptions options;
    options.data = argv[4];
    const latent::Dataset test = latent::load_dataset(options);
    const double within = std::atof(argv[5]);
    const double qa = top_100(a, test), qb = top_100(b, test);
    fmt::print("FactorizedTopK@100 on {} pairs: {:.4f} and {:.4f} (difference {:.4f}, within {})\n",
               test.interactions.size(), qa, qb, std::abs(qa - qb), within);
    require(std::abs(qa - qb) <= within, "quality");
    require(a.rating_head.has_value() == b.rating_head.has_value(), "rating head");
    if (a.rating_head && b.rating_head) {
      const double ra = rmse(a, test), rb = rmse(b, test);
      fmt::print("RMSE: {:.4f} and {:.4f} (difference {:.4f}, within {})\n", ra, rb,
                 std::abs(ra - rb), within);
      require(std::abs(ra - rb) <= within, "RMSE");
    }
    fmt::print("{}\n", ok ? "same quality" : "different quality");
    return ok ? 0 : 1;
  }
  require(a.kind == b.kind, "kind");
  require(a.config == b.config, "config");
  require(std::ranges::equal(a.users.ids(), b.users.ids()), "user vocabulary");
  require(std::ranges::equal(a.items.ids(), b.items.ids()), "item vocabulary");
  require(a.item_to_item.is_dense() == b.item_to_item.is_dense(), "item-to-item layout");
  require(a.item_titles == b.item_titles, "item titles");
  require(a.seen == b.seen, "seen items");
  require(a.user_embeddings.cols() == b.user_embeddings.cols(), "user vector dimension");
  compare(a.user_embeddings.values(), b.user_embeddings.values(), "user vectors", tolerance);
  compare(a.item_embeddings.values(), b.item_embeddings.values(), "item vectors", tolerance);
  compare(a.item_to_item.values(), b.item_to_item.values(), "item-to-item term", tolerance);
  compare(a.seen_weights, b.seen_weights, "seen weights", tolerance);
  compare(a.item_queries.values(), b.item_queries.values(), "item queries", tolerance);
  require(a.rating_head.has_value() == b.rating_head.has_value(), "rating head");
  if (a.rating_head && b.rating_head) {
    require(a.rating_head->weights.size() == b.rating_head->weights.size(), "rating head layers");
    for (std::size_t l = 0; l < a.rating_head->weights.size() && ok; ++l) {
      compare(a.rating_head->weights[l].values(), b.rating_head->weights[l].values(),
              "rating head weights", tolerance);
      compare(a.rating_head->biases[l].values(), b.rating_head->biases[l].values(),
              "rating head biases", tolerance);
    }
  }
  fmt::print("{}\n", ok ? "same model" : "different models");
  return ok ? 0 : 1;
}
