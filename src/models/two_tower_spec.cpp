// The two-tower retrieval model (two_tower.hpp) as the registry knows it.
#include <latent/param_table.hpp>
#include <latent/two_tower.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

const ParamTable<TwoTowerConfig>& table() {
  using C = TwoTowerConfig;
  static const auto t =
      ParamTable<C>()
          .add("dim", &C::dim, "Embedding dimension", Range::between(1, 4096))
          .choice("optimizer", &C::optimizer, "Optimizer", {"adagrad", "adam"}, parse_optimizer,
                  to_string)
          .add("learning-rate", &C::learning_rate, "Learning rate", Range::above(0))
          .add("initial-accumulator", &C::initial_accumulator,
               "Adagrad's initial accumulator value", Range::at_least(0))
          .add("batch-size", &C::batch_size, "Pairs per batch", Range::at_least(1))
          .add("epochs", &C::epochs, "Passes over the training pairs", Range::at_least(1))
          .add("temperature", &C::temperature, "Softmax temperature", Range::above(0))
          .choice("negatives", &C::negatives,
                  "Softmax negatives: in-batch (TFRS), catalog (every item), auto (catalog up to "
                  "20,000 items, else in-batch with logQ correction)",
                  {"auto", "in-batch", "catalog"}, parse_negatives, to_string)
          .add("remove-accidental-hits", &C::remove_accidental_hits,
               "Mask in-batch negatives that are the positive item")
          .add("logq-correction", &C::logq_correction,
               "Subtract log(item sampling probability) from the logits")
          .add("hard-negatives", &C::hard_negatives,
               "Keep only the N highest-scoring in-batch negatives (0: all)", Range::at_least(0))
          .list("layers", &C::layers,
                "Dense layers of each tower, ReLU between them (TFRS deep retrieval: 64,32); the "
                "vectors are the last layer's width",
                Range::between(1, 4096))
          .add("user-ids", &C::user_ids,
               "Users' id embeddings; off, a user's vector is its features' alone")
          .add("item-ids", &C::item_ids,
               "Items' id embeddings; off, an item's vector is its features' alone (cold-start "
               "items)")
          .add("retrieval-weight", &C::retrieval_weight,
               "Weight of the retrieval task (the softmax) in the loss (TFRS multitask)",
               Range::at_least(0))
          .add("rating-weight", &C::rating_weight,
               "Weight of the ranking task (mean squared error of the ratings, predicted by a "
               "network over the user's and item's vectors) in the loss; 0 trains no rating "
               "network",
               Range::at_least(0))
          .list("rating-layers", &C::rating_layers,
                "Hidden layers of the rating network, ReLU after each, then one output (TFRS "
                "basic ranking: 256,64)",
                Range::between(1, 4096))
          .add("shuffle", &C::shuffle, "Reshuffle the pairs every epoch")
          .add("train-metrics", &C::train_metrics,
               "Running FactorizedTopK accuracy of the training batches (a log; it changes no "
               "weight); with in-batch negatives, on a sample of each batch's users")
          .add("validation-freq", &C::validation_freq,
               "Test metrics every N epochs and after the last (Keras fit's validation_freq); "
               "they are part of the training time",
               Range::at_least(1))
          .common("seed", &C::seed)
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  InitialVectors init;
  if (in.init != nullptr) {
    const ModelData& saved = *in.init;
    init = {&saved.user_embeddings, &saved.item_embeddings,
            saved.user_tower ? &saved.user_tower->params : nullptr,
            saved.item_tower ? &saved.item_tower->params : nullptr,
            saved.rating_head ? &*saved.rating_head : nullptr};
  }
  TwoTowerResult r =
      train_two_tower(in.train, in.test, table().read(params), in.on_progress, in.on_epoch, init,
                      {in.user_features, in.item_features, in.context});
  return {std::move(r.user_embeddings),
          std::move(r.item_embeddings),
          std::move(r.epochs),
          r.train_seconds,
          {},
          {},
          std::move(r.user_tower),
          std::move(r.item_tower),
          std::move(r.rating_head)};
}

TrainedVectors train_distributed(const Params& params, const DistributedTrainInput& in) {
  TwoTowerResult r =
      train_two_tower_distributed(in.comm, in.train, table().read(params), in.on_progress,
                                  in.on_epoch, {in.user_features, in.item_features, in.context});
  return {std::move(r.user_embeddings),
          std::move(r.item_embeddings),
          std::move(r.epochs),
          r.train_seconds,
          {},
          {},
          std::move(r.user_tower),
          std::move(r.item_tower),
          std::move(r.rating_head)};
}

}  // namespace

ModelSpec two_tower_spec() {
  ModelSpec s;
  s.name = "two-tower";
  s.summary =
      "Two-tower retrieval (TensorFlow Recommenders' tasks.Retrieval): user and item "
      "embeddings, or towers over ids and side features, trained by a softmax over in-batch or "
      "catalog negatives";
  s.params = table().specs();
  s.search_space = {{{"learning-rate", {"0.02", "0.05", "0.1", "0.2"}},
                     {"batch-size", {"256", "512", "1024"}},
                     {"epochs", {"3", "5", "10"}}}};
  s.tuning_defaults = {{"train-metrics", "false"}};
  s.thread_deterministic = true;
  s.takes_features = true;
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.fold_in = [](const ModelData&) { return std::make_unique<MeanOfItems>(); };
  s.train_distributed = train_distributed;
  s.warm_start = true;
  s.warm_start_fixed = {"dim", "layers", "user-ids", "item-ids", "rating-layers"};
  s.warm_start_note =
      "update all continues training from the saved embeddings, towers (with the same features, "
      "encoded as they were: new values are out of vocabulary) and rating network (new ids from "
      "the usual random ones) for its epochs on the new pairs, with a fresh optimizer state (the "
      "model file does not keep Adagrad's or Adam's); update users is not offered: both towers "
      "train together; a model with context features takes its context columns again (the new "
      "pairs' times encoded by the saved statistics and buckets)";
  return s;
}

}  // namespace latent
