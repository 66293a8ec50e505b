// Trains ALS on two taste groups held in memory and prints user a1's top
// unseen item, which must be a-item1, the one item of a1's group that a1 has
// not seen: the public path (dataset, fit, recommend) of an installed latent.
#include <cstdint>
#include <cstdio>
#include <string>

#include <latent/dataset.hpp>
#include <latent/fit.hpp>

int main() {
  latent::ColumnData columns;
  for (const char group : {'a', 'b'}) {
    for (int u = 1; u <= 4; ++u) {
      for (int i = 1; i <= 3; ++i) {
        if (i == u) continue;  // user u has not seen item u of the group
        columns.users.push_back(std::string{group} + std::to_string(u));
        columns.items.push_back(std::string{group} + "-item" + std::to_string(i));
      }
    }
  }
  latent::FitOptions options;
  options.model = "als";
  // Two groups, two dimensions; the default regularization (50) would swamp eight users.
  options.params = {{"dim", "2"}, {"epochs", "10"}, {"regularization", "0.1"}};
  const latent::Recommender model =
      latent::fit(latent::dataset_from_columns(columns), options).model;

  const std::int32_t user = model.user_row("a1");
  const latent::TopK top = model.recommend({&user, 1}, 1, /*exclude_seen=*/true);
  const std::string item(model.item_id(top.items.at(0)));
  std::printf("a1 -> %s (score %.3f)\n", item.c_str(), static_cast<double>(top.scores.at(0)));
  return item == "a-item1" ? 0 : 1;
}
