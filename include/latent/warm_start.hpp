#pragma once
// Warm start: training that keeps up. A saved model and new data become one
// training problem on the model's vocabularies: the ids the model knows keep
// their rows (1..n, in its order), the ids new to it are appended in the new
// data's row order, and the new data's pairs are renumbered onto those rows.
// fit() (FitOptions::init) trains from there; each model's spec says whether
// and how it warm-starts (ModelSpec::warm_start, ModelSpec::update_users).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <latent/dataset.hpp>
#include <latent/interactions.hpp>
#include <latent/model_file.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

// What a warm start trains: every side the model has (All), or only its
// user side with the item side kept as saved (Users: implicit's
// "recalculate user"; its item vocabulary stays the saved one).
enum class WarmUpdate { All, Users };
// "all", "users"; throws InvalidArgument listing both.
WarmUpdate parse_warm_update(const std::string& name);
const char* to_string(WarmUpdate update) noexcept;

// A saved vocabulary extended by the ids of a new one.
struct VocabularyMerge {
  // The saved ids at their rows 1..n, then the new vocabulary's ids the
  // saved one lacks, in the new one's row order. Integer ids when both are.
  Vocabulary merged;
  // Row of each row of the new vocabulary in `merged` (rows[0] = 0, OOV).
  std::vector<std::int32_t> rows;
};
// With extend false, `merged` is `saved` itself and the new vocabulary's
// rows that it lacks map to -1.
VocabularyMerge merge_vocabularies(const Vocabulary& saved, const Vocabulary& fresh,
                                   bool extend = true);

// A data set (and its optional split) on the rows of a warm start.
struct WarmStartData {
  Dataset data;                // on the merged vocabularies; titles merged
  std::optional<Split> split;  // the given split, renumbered
  // The saved model's seen pairs (users, items; weights when it keeps them)
  // on the merged rows, which are its own rows: what the new model's seen
  // items add to the new ones, so --exclude-seen still leaves out what users
  // saw before.
  Interactions saved_seen;
  std::int32_t new_users = 0;  // ids appended to each vocabulary
  std::int32_t new_items = 0;
};

// Renumbers `data` (and `split`, made from it, when not null) onto the
// saved model's vocabularies extended by the data's new ids. Titles: the
// data's title of an item when it has one, else the saved one. With
// WarmUpdate::Users the item vocabulary stays the saved one: a training
// pair on an item the model does not know is InvalidArgument (naming the
// item and how many there are; `init_name` names the saved model in the
// message), and the data's other rows on such items (the rating filter's
// seen-only pairs, catalog items without pairs) are left out.
WarmStartData warm_start_data(const ModelData& saved, const Dataset& data, const Split* split,
                              WarmUpdate update, const std::string& init_name);

}  // namespace latent
