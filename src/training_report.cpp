#include <latent/training_report.hpp>

#include <fmt/format.h>

namespace latent {

nlohmann::json TopKAccuracy::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < ks.size(); ++i) j[fmt::format("top_{}", ks[i])] = accuracy[i];
  return j;
}

}  // namespace latent
