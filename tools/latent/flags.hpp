#pragma once
// Flags shared by the commands that load data and train: where the data is
// and how to read it (DataFlags), and which model with which
// hyper-parameters (ModelFlags: one flag per parameter name of the model
// specs in the registry, with the per-model listing in --help).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include <latent/dataset.hpp>
#include <latent/features.hpp>
#include <latent/params.hpp>
#include <latent/progress.hpp>
#include <latent/split.hpp>

namespace latent::cli {

struct DataFlags {
  LoadOptions load;
  std::string format = "auto";
  std::string delimiter;
  bool no_header = false;
  double rating_above = 0;
  std::string item_key = "id";
  CLI::Option* rating_above_option = nullptr;

  void add_to(CLI::App& cmd);
  // The LoadOptions the flags describe; throws for invalid names.
  LoadOptions options() const;
};

// --user-features and --item-features (declarations), and their files: the
// side features a model trains on (load_side_features).
struct FeatureFlags {
  std::string user, item;
  std::string user_file, item_file;
  std::string user_id, item_id;
  std::string context;  // --context-features

  void add_to(CLI::App& cmd);
  bool any() const { return !user.empty() || !item.empty() || !context.empty(); }

  // What the flags ask for: each side's table (nullopt: none), from the
  // files or the MovieLens directory `data`, and the --context-features
  // columns (QueryContext::fit).
  struct Loaded {
    std::optional<FeatureTable> users, items;
    std::vector<FeatureColumn> context;
    // Gives them to FitOptions or TuneOptions (pointing at the tables,
    // which must outlive it).
    template <typename Options>
    void give_to(Options& o) const {
      o.user_features = users ? &*users : nullptr;
      o.item_features = items ? &*items : nullptr;
      o.context_features = context;
    }
    // `load` with the data columns the context features read kept.
    LoadOptions with_context(LoadOptions load) const {
      load.context_cols = QueryContext::data_columns(context);
      return load;
    }
  };
  Loaded load(const std::filesystem::path& data) const;
};

// NAME=VALUE arguments (recommend --user-features, similar --item-features)
// as feature values; throws InvalidArgument naming `flag` for one without =.
std::vector<FeatureValue> parse_feature_values(const std::vector<std::string>& args,
                                               const std::string& flag);

struct ModelFlags {
  std::string model = "two-tower";

  // Adds --model and a flag for every parameter of every registered model
  // (a Bool is a switch: --NAME, or --no-NAME when it defaults to true),
  // listed by model in the command's help footer.
  void add_to(CLI::App& cmd);
  // The parameters given on the command line (and only those).
  Params params() const;
  // Whether --model was given (a warm start takes its saved model's kind otherwise).
  bool model_given() const { return model_option_ != nullptr && model_option_->count() > 0; }

 private:
  struct Given {
    CLI::Option* option;
    std::string name;
    std::string value;  // a switch's value; "" for an option, read from values_
  };
  std::map<std::string, std::string> values_;
  std::vector<Given> given_;
  CLI::Option* model_option_ = nullptr;
};

// How to split into train and test: a method, or a split read from files.
struct SplitFlags {
  std::string method = to_string(SplitSpec{}.method);
  double fraction = SplitSpec{}.fraction;
  int last_k = SplitSpec{}.k;
  std::string split_in;
  std::string split_out;
  // The flags that choose the split (--split, --test-fraction, --last-k,
  // --split-in), for options that replace them.
  std::vector<CLI::Option*> choosers;

  // with_files adds --split-in and --split-out.
  void add_to(CLI::App& cmd, bool with_files);
  // Throws InvalidArgument when a flag that chooses the split was given
  // beside `replacement` (e.g. "--test-file"), which makes them moot.
  void refuse_choosers(std::string_view replacement) const;
  // The split the flags describe (throws for an invalid method name).
  SplitSpec spec(std::uint64_t seed) const;
  // Reads --split-in, or splits data; checks every test user keeps training data.
  Split make(const Dataset& data, std::uint64_t seed) const;
};

// Which seen items the evaluation leaves out of the ranking besides the
// user's training items.
struct RankingFlags {
  bool exclude_rated = false;

  void add_to(CLI::App& cmd);
  // Throws InvalidArgument for --exclude-rated without --rating-above (there
  // is nothing to leave out), before the data is read.
  void check(const DataFlags& data) const;
  // For EvaluationOptions::also_excluded: the data's seen-only pairs (rows
  // the rating filter dropped) with --exclude-rated, else nullptr.
  const Interactions* also_excluded(const Dataset& data) const;
};

// -q/--quiet and -v/--verbose of the commands that train.
struct ProgressFlags {
  bool quiet = false;
  bool verbose = false;

  void add_to(CLI::App& cmd);
  // The training progress bar on stderr: with --verbose, a line per epoch
  // (not one per 10 s in a log), after a line on the kernels and threads in
  // use (as `latent info --system`).
  ProgressBar bar() const;
};

}  // namespace latent::cli
