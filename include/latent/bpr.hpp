#pragma once
// Bayesian Personalized Ranking (Rendle et al., UAI 2009) as implicit's CPU
// BPR trains it: matrix factorization with an item bias, fitted by SGD on
// -log sigmoid(x_ui - x_uj) + L2, where each epoch draws as many
// (user u, positive i, negative j) triples as there are distinct training
// pairs: (u, i) is a uniformly random distinct pair, j a uniformly random
// item (never OOV) that u does not have (re-drawn while it is one of u's
// positives). Threads update the shared factors without locks (Hogwild),
// each drawing from its own seeded stream; one thread is deterministic.
//
// The score is x_ui = dot(user_factors.row(u), item_factors.row(i)): both
// tables have dim + 1 columns, the last one holding the item bias on the
// item side and a constant 1 on the user side (as implicit stores it), so
// the exact top-K of index.hpp ranks BPR models like any other.

#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/initial_vectors.hpp>
#include <latent/interactions.hpp>
#include <latent/matrix.hpp>

namespace latent {

struct BprConfig {
  // Defaults: the best of a grid (learning rate 0.01-0.2, regularization
  // 0-0.12, epochs 50-1600) on a validation split of MovieLens 100K
  // positives, NDCG@10. Small data needs many epochs; one epoch of the
  // MovieLens-20M shape takes ~0.4 s on 2 cores.
  int dim = 64;                  // latent factors (the tables have dim + 1 columns)
  float learning_rate = 0.02f;   // SGD step
  float regularization = 0.02f;  // L2 on the factors and biases each step touches
  int epochs = 800;              // one epoch = as many triples as distinct training pairs
  std::uint64_t seed = 42;
  int threads = 0;  // 0: all hardware threads

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  nlohmann::json to_json() const;
};

struct BprResult {
  // num_users x (dim + 1): factors, then a constant 1 (0 for the OOV row 0,
  // which stays all zero; users without pairs keep zero factors).
  Matrix user_factors;
  // num_items x (dim + 1): factors, then the item bias. Row 0 (OOV) stays zero.
  Matrix item_factors;
  // Per epoch: wall seconds, and the fraction of the epoch's sampled triples
  // the model ranked right (x_ui > x_uj before the step, implicit's
  // "train_auc").
  std::vector<double> seconds;
  std::vector<double> accuracy;
};

// Trains on the distinct (user, item) pairs of `train` (rows of vocabularies
// of num_users / num_items rows, row 0 being OOV; weights and duplicates are
// ignored: a pair is a positive or it is not). Throws InvalidArgument for an
// invalid config, no pairs, or a pair outside the vocabularies (or on OOV).
// on_epoch(epoch (1-based), seconds, accuracy) runs after every epoch.
// A warm start (init not empty) starts from init's rows, in the layout
// BprResult has (dim + 1 columns: factors, then the item bias; the users'
// last column is ignored), and continues SGD from there; the other rows
// start as a cold start makes them. Throws InvalidArgument for initial
// factors of another shape.
BprResult train_bpr(
    const Interactions& train, const BprConfig& config,
    const std::function<void(int epoch, double seconds, double accuracy)>& on_epoch = {},
    const InitialVectors& init = {});

}  // namespace latent
