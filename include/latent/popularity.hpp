#pragma once
// Popularity: every user gets the same ranking, items by how often they
// occur in the training pairs. As a factor model: item vectors are the
// counts (num_items x 1) and every user's query is the 1 x 1 vector [1].

#include <latent/interactions.hpp>
#include <latent/matrix.hpp>

namespace latent {

// num_items x 1: row i = the number of training events on item i (every
// event counts, duplicates too), or the sum of their weights when `train`
// has weights. Row 0 (OOV) is 0. Throws InvalidArgument for a pair outside
// the vocabularies (or on OOV), mismatched or invalid (negative, non-finite)
// weights.
Matrix train_popularity(const Interactions& train);

}  // namespace latent
