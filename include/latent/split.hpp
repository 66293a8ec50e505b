#pragma once
// Train/test splits for honest evaluation, beyond the global random_split of
// interactions.hpp: a per-user hold-out of distinct items, leave-last-k by
// timestamp, a check that every test user keeps training data, and a CSV
// form of a split so other tools can be trained and scored on the same one.
//
// Every split is a partition: each entry of `all` lands in exactly one of
// train and test (no event lost or duplicated), both keep the input's
// num_users/num_items and optional columns, and each side lists its entries
// in input order.

#include <cstdint>
#include <filesystem>
#include <string>

#include <latent/interactions.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

// Per user, a seeded random `fraction` of that user's DISTINCT items goes to
// test, with every event of a chosen (user, item) pair, so no test item of a
// user is also one of its train items.
//
// Count: a user with d >= min_items distinct items gets
// min(round(fraction * d), d - 1) test items (round half away from zero), so
// every user with a test item keeps at least one train item; users with
// fewer than min_items distinct items (or for whom the rounding gives 0)
// keep everything in train.
//
// Determinism: the choice for a user depends only on the seed, the user row
// and the set of that user's items, never on the order of the input; the
// same interactions in any order give the same (user, item) pairs in test.
//
// Throws InvalidArgument, naming the value, when fraction is outside (0, 1),
// min_items < 1, or an entry is out of the interactions' row ranges.
Split per_user_split(const Interactions& all, double fraction, std::uint64_t seed,
                     int min_items = 2);

// Per user, the last k interactions (events) by timestamp go to test; ties
// are broken by input order (the later entry counts as later). Users with
// <= k interactions keep all of them in train, so every test user keeps at
// least one train interaction. Events are split, not distinct items: when a
// user repeats an item, it can be in both train and test (see evaluation.hpp
// on how such items count).
//
// Throws InvalidArgument when k <= 0 (naming k) or `all` has no timestamps.
Split leave_last_k_split(const Interactions& all, int k);

// Throws InvalidArgument when a user with test interactions has none in
// train ("a split that leaves a user with no training items"), naming the
// first such user in test order by raw id and row, and how many such users
// there are. `users` is the vocabulary the split's user rows index.
void require_train_for_test_users(const Split& split, const Vocabulary& users);

// Writes `dir`/train.csv and `dir`/test.csv (creating `dir` if needed), each
// with the header user,item[,rating][,weight][,timestamp] and the context
// columns' names (the optional columns when that side has them) and RAW ids from the vocabularies,
// quoted per RFC 4180 when they hold a comma, quote, line break or edge whitespace. Numbers are
// written in the shortest form that reads back bit-identical. Each file is written to a temporary
// name and renamed into place.
//
// Throws InvalidArgument when a side's num_users/num_items differ from the
// vocabularies' sizes, or an entry uses the OOV row 0 or a row out of range
// (neither has a raw id) or a context column has an empty name or one of
// the names above; IO when a file cannot be written.
void write_split(const std::filesystem::path& dir, const Split& split, const Vocabulary& users,
                 const Vocabulary& items);

// Reads what write_split wrote (or any comma-separated file pair with a
// header naming user and item columns, optional rating, weight and
// timestamp columns; every other column is a context column of its name), mapping raw ids through
// the vocabularies; num_users/num_items are the vocabularies' sizes.
// Throws NotFound for a missing file or column, or an id not in its
// vocabulary (naming the file, line and id); Corruption for a malformed
// line or number.
Split read_split(const std::filesystem::path& dir, const Vocabulary& users,
                 const Vocabulary& items);
// One such file: its pairs (and ratings, weights, timestamps and context
// when it has those columns), with the same errors. `latent predict --pairs` reads it.
Interactions read_pairs(const std::filesystem::path& path, const Vocabulary& users,
                        const Vocabulary& items);

// The split methods by name, for front ends: "random" (global fraction),
// "per-user" (fraction of each user's items), "last-k" (k latest per user).
enum class SplitMethod { Random, PerUser, LastK };
SplitMethod parse_split_method(const std::string& name);  // InvalidArgument listing the names
const char* to_string(SplitMethod method) noexcept;       // "random", "per-user", "last-k"
// A split by name; its defaults are every front end's (--split per-user
// --test-fraction 0.2 --last-k 1, and Python's Dataset.split).
struct SplitSpec {
  SplitMethod method = SplitMethod::PerUser;
  double fraction = 0.2;    // random, per-user
  int k = 1;                // last-k
  std::uint64_t seed = 42;  // the front ends pass seed_of(params) (fit.hpp)
};
// Splits and checks that every test user keeps training data.
Split make_split(const Interactions& all, const SplitSpec& spec, const Vocabulary& users);

}  // namespace latent
