#pragma once
// ModelSpec: everything latent knows about one model, declared in one place
// (src/models/<name>_spec.cpp for the built-in ones): its parameters (name,
// type, default, range or choices, one line of help), its trainer, its
// fold-in for users who were not in training, its default tuning grid, and
// what it supports. The registry lists the specs; `fit`, `tune`, the
// Recommender, the CLI's flags and --help, the Python keyword arguments and
// docstring, and the README's parameter table are all derived from them, so
// adding a model is one file plus one registration line.
//
// A model of latent scores as a dot product: its trainer returns user and
// item vectors, and score(u, i) = dot(user_vectors.row(u), item_vectors.row(i)),
// plus, for item-based models, an item-to-item term over the user's items
// (item_to_item.hpp).

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/communicator.hpp>
#include <latent/features.hpp>
#include <latent/interactions.hpp>
#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>
#include <latent/model_file.hpp>
#include <latent/params.hpp>
#include <latent/rank_pairs.hpp>
#include <latent/rating_head.hpp>
#include <latent/search_space.hpp>
#include <latent/tower.hpp>
#include <latent/training_report.hpp>
#include <latent/warm_start.hpp>

namespace latent {

// IntList: comma-separated integers ("64,32"; "" is the empty list), each
// within the range.
enum class ParamType { Int, Float, Bool, Choice, IntList };
// "int", "float", "bool", "choice", "ints"
const char* to_string(ParamType type) noexcept;
// The integers of an IntList value; throws InvalidArgument naming the
// parameter and the value for one that is not a list of integers.
std::vector<std::int32_t> parse_int_list(const std::string& name, const std::string& text);

// One hyper-parameter: what its CLI flag, Python keyword, help line, tuning
// grid and README row show.
struct ParamSpec {
  std::string name;  // "learning-rate": CLI --learning-rate, Python learning_rate
  ParamType type = ParamType::Float;
  std::string default_value;  // as text: "0.05", "true", "adagrad"
  std::string help;           // one line, no final period
  // Int, Float, IntList (each): the value must be finite and within [min, max], an end
  // excluded when its *_open flag is set.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;
  std::vector<std::string> choices;  // Choice: the accepted values

  // "[1, 4096]", "> 0", ">= 0", "adagrad, adam", or "" when anything goes.
  std::string range_text() const;
  // The Python keyword: the name with _ for -.
  std::string python_name() const;
  // The CLI flag: "--name", or "--no-name" for a Bool that defaults to true.
  std::string flag() const;
  // Throws InvalidArgument naming the parameter, the value and the allowed
  // range or choices, when `text` is not a valid value.
  void check(const std::string& text) const;
  nlohmann::json to_json() const;

 private:
  // v: value `text`, or one of its elements.
  void check_range(double v, const std::string& text, bool element) const;
};

// What a trainer gets: the pairs to fit (rows of vocabularies of
// train.num_users / train.num_items rows, row 0 being OOV), optional
// held-out pairs for per-epoch metrics, and where to report progress; for
// a warm start (warm_start.hpp), the saved model to start from.
struct TrainInput {
  const Interactions& train;
  const Interactions* test = nullptr;
  const ProgressCallback& on_progress;
  const EpochCallback& on_epoch;
  // A warm start: a saved model of this kind (null: a cold start), whose
  // rows 1..n of each vocabulary are rows 1..n of train's (the rows after
  // them are ids new to it), and what to update. fit() calls a trainer with
  // it only as its spec's warm_start / update_users allow, and with Users
  // only on the saved item vocabulary.
  const ModelData* init = nullptr;
  WarmUpdate update = WarmUpdate::All;
  // Side features (features.hpp), rows[r] those of vocabulary row r; null:
  // none. fit() passes them only to a model whose spec takes_features.
  const SideFeatures* user_features = nullptr;
  const SideFeatures* item_features = nullptr;
  // The queries' context of train's and test's pairs (features.hpp); null:
  // none. Only for a model whose spec takes_features.
  const QueryContext* context = nullptr;
};

// What a distributed trainer gets on each rank of a run (fit_distributed):
// the ranks, this rank's share of the training pairs, and where to report
// progress (every rank calls them; the front end shows rank 0's).
struct DistributedTrainInput {
  Communicator& comm;
  const RankPairs& train;
  const ProgressCallback& on_progress;
  const EpochCallback& on_epoch;
  // Side features (takes_features models), the same on every rank: rows
  // of the whole vocabularies.
  const SideFeatures* user_features = nullptr;
  const SideFeatures* item_features = nullptr;
  // Context features (two-tower): fitted on every rank's pairs, whose
  // timestamps encode each pair's context (train_two_tower_distributed).
  const QueryContext* context = nullptr;
};

// What a trainer hands back.
struct TrainedVectors {
  Matrix user_vectors;  // train.num_users x d
  Matrix item_vectors;  // train.num_items x d
  std::vector<EpochReport> epochs;
  double seconds = 0;  // training time
  // Item-based models: the item-to-item term of their scores and the item
  // query vectors of their fold-in (ModelData's fields of those names).
  ItemToItem item_to_item;
  Matrix item_queries;
  // Models with towers (two-tower over features): each side's tower
  // parameters, which the model file keeps with the features' encoders.
  std::optional<TowerParams> user_tower, item_tower;
  // The ranking task's network (two-tower with a rating weight), which the
  // model file keeps and Recommender::predict scores pairs with.
  std::optional<RatingHead> rating_head;
};

// The query vector of a user who was not in training, from the item rows
// they interacted with, without retraining. Built once per loaded model by
// ModelSpec::fold_in from that model (ALS keeps its item Gramian here); it
// keeps no reference to the model, which is passed to every query.
class FoldIn {
 public:
  virtual ~FoldIn() = default;
  // item_rows: non-empty, each in [1, model.items.size()) (checked by the
  // caller). Returns a query of the model's dimension for its item vectors.
  virtual std::vector<float> query(const ModelData& model,
                                   std::span<const std::int32_t> item_rows) const = 0;
};

// The fold-in of embedding models: the mean of the items' vectors points
// where the user's own vector would, up to scale, which top-K ignores.
class MeanOfItems : public FoldIn {
 public:
  std::vector<float> query(const ModelData& model,
                           std::span<const std::int32_t> item_rows) const override;
};

// The fold-in of item-based models: the sum of the distinct items' rows of
// ModelData::item_queries, as their trainers make a known user's vector.
class SumOfItemQueries : public FoldIn {
 public:
  std::vector<float> query(const ModelData& model,
                           std::span<const std::int32_t> item_rows) const override;
};

struct ModelSpec {
  std::string name;     // the registry name: --model NAME, latent.Model(NAME)
  std::string summary;  // one line for help texts
  // The model's own parameters. The common ones (common_param_specs()) are
  // accepted by every model and are not repeated here.
  std::vector<ParamSpec> params;
  SearchSpace search_space;  // `latent tune`'s default grid: names of `params`
  // Set in every tuning trial unless given: parameters that change no
  // weight, only cost (two-tower's running train metrics).
  Params tuning_defaults;
  // Trains on pair weights (Interactions::weights), so it can take the
  // common "rated-weight" pairs.
  bool weighs_pairs = true;
  // The same model for any thread count (for a given seed).
  bool thread_deterministic = true;
  // Trains on side features of users and items (TrainInput's), and keeps
  // towers that give the vectors of users and items it did not see.
  bool takes_features = false;
  // Ranks items differently for different users (popularity does not).
  bool personalized = true;
  // Its item vectors say which items are alike (cosine: similar items,
  // similar pairs). Popularity's one-column vectors do not: every item would
  // be 1.0 like every other.
  bool item_similarity = true;
  // Warm start (FitOptions::init): what the model does with a saved model
  // of its kind and new data. warm_start: it trains on the new data from
  // the saved model's state (update all); update_users: it recomputes its
  // user side alone, keeping its item side (update users). A warm start
  // that a model refuses is an error quoting warm_start_note, which says
  // what the model does or why it cannot.
  bool warm_start = false;
  bool update_users = false;
  std::string warm_start_note;
  // Parameters a warm start cannot change, for the saved state has their
  // shape ("dim"); the others default to the saved model's values.
  std::vector<std::string> warm_start_fixed;

  // Checks `params` (only names of `params` and common ones) and returns
  // the config the model would train with, as stored in the model file.
  // Throws InvalidArgument for an invalid value.
  std::function<nlohmann::json(const Params& params)> configure;
  // Trains with checked params (configure has accepted them).
  std::function<TrainedVectors(const Params& params, const TrainInput& input)> train;
  // Trains on several ranks (null: the model does not; distributed_note
  // says why). Collective: every rank calls it with its share; rank 0's
  // result is the model, the same as `train` gives in one process on all
  // the pairs (docs/distributed.md says how close for each model); other
  // ranks may return empty vectors.
  std::function<TrainedVectors(const Params& params, const DistributedTrainInput& input)>
      train_distributed;
  std::string distributed_note;
  // The fold-in of a trained model of this kind.
  std::function<std::unique_ptr<FoldIn>(const ModelData& model)> fold_in;

  // The parameter named `name` of this model, or a common one it accepts;
  // nullptr when it takes no such parameter.
  const ParamSpec* param(std::string_view name) const;
  // Every parameter it accepts: its own, then the common ones that apply.
  std::vector<ParamSpec> all_params() const;
  nlohmann::json to_json() const;  // name, summary, params (all), search space, flags
};

// Parameters every model accepts, read by fit():
//   seed          the test split's seed, and the model's own (if it has one)
//   threads       threads for training (0: all cores; models may ignore it)
//   rated-weight  weight of the rows --rating-above dropped, trained as weak
//                 positives (only models with weighs_pairs)
const std::vector<ParamSpec>& common_param_specs();
// Whether common parameter `name` applies to `model`.
bool common_param_applies(const ParamSpec& common, const ModelSpec& model);

// ---- The registry ----------------------------------------------------------

// Every registered model: the built-in ones in name order, then the ones
// added by register_model in the order they were added.
std::vector<const ModelSpec*> model_specs();
std::vector<std::string> model_names();
// The spec named `name`; throws InvalidArgument listing the valid names.
const ModelSpec& model_spec(std::string_view name);
// The spec named `name`, or nullptr.
const ModelSpec* find_model_spec(std::string_view name) noexcept;

// Adds a model. Call it before any other thread uses the registry (at start
// up, or from a static initialiser of the model's own file). Throws
// InvalidArgument for a duplicate or invalid name, a missing function, a
// parameter without help, a default outside its own range, a parameter that
// shadows a common one, or a search space naming an unknown parameter.
void register_model(ModelSpec spec);

// Checks that every name in `params` is a parameter of `model` or an
// applicable common one; throws InvalidArgument naming the first one that is
// not and listing those it takes.
void check_param_names(const ModelSpec& model, const Params& params);

}  // namespace latent
