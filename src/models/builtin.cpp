// The registry's built-in models: one line each, the spec in its own file.
#include "builtin.hpp"

namespace latent {

ModelSpec als_spec();
ModelSpec bpr_spec();
ModelSpec ease_spec();
ModelSpec gf_cf_spec();
ModelSpec popularity_spec();
ModelSpec two_tower_spec();

std::vector<ModelSpec> builtin_model_specs() {
  std::vector<ModelSpec> specs;
  specs.push_back(als_spec());
  specs.push_back(bpr_spec());
  specs.push_back(ease_spec());
  specs.push_back(gf_cf_spec());
  specs.push_back(popularity_spec());
  specs.push_back(two_tower_spec());
  return specs;
}

}  // namespace latent
