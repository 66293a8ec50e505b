#pragma once
// Popularity: every user gets the same ranking, items by how often they
// occur in the training pairs. As a factor model: item vectors are the
// counts (num_items x 1) and every user's query is the 1 x 1 vector [1].

#include <latent/communicator.hpp>
#include <latent/interactions.hpp>
#include <latent/matrix.hpp>
#include <latent/rank_pairs.hpp>

namespace latent {

// num_items x 1: row i = the number of training events on item i (every
// event counts, duplicates too), or the sum of their weights when `train`
// has weights. Row 0 (OOV) is 0. Throws InvalidArgument for a pair outside
// the vocabularies (or on OOV), mismatched or invalid (negative, non-finite)
// weights.
Matrix train_popularity(const Interactions& train);

// The same on the ranks of a distributed run (collective): each rank counts
// its own pairs in double, and the ranks' counts are summed (an allreduce of
// num_items doubles). Integer counts (no weights, or whole weights) are
// exact, so the result is train_popularity's on all the pairs bit for bit;
// fractional weights are added in another order, which can move a count by
// a rounding of the double sum (then of the float). Returns the counts on
// every rank.
Matrix train_popularity_distributed(Communicator& comm, const RankPairs& train);

}  // namespace latent
