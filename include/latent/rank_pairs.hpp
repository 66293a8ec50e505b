#pragma once
// The training pairs of a distributed run, spread over its ranks, and how
// trainers regroup them: each rank holds the pairs of its own part files
// (DatasetShare); ALS and EASE need every pair of a user (or an item) on
// the rank that solves that user, and rank 0 needs them all to write the
// model's seen items. Regrouped pairs keep the order one process reading
// every file would give them, so sums over a row's pairs (its duplicates'
// weights) come out the same as in one process.

#include <cstdint>
#include <span>
#include <vector>

#include <latent/communicator.hpp>
#include <latent/interactions.hpp>

namespace latent {

// This rank's pairs, in segments: the pairs of one process's order are
// segment 0's (of whichever rank holds it), then segment 1's, and so on;
// segments has the same length on every rank, and each segment's pairs are
// on one rank (a part file's rows: DatasetShare::kept_per_file).
struct RankPairs {
  Interactions pairs;  // users, items, weights (empty: all 1) on the whole vocabularies
  std::vector<std::uint64_t> segments;  // this rank's pairs of each segment, in order
};

// Contiguous ranges of rows, one per rank: rank r owns [starts[r],
// starts[r + 1]). Row 0 (OOV) is rank 0's.
struct RowPartition {
  std::vector<std::int64_t> starts;  // size() + 1 entries, 0 .. rows

  // Ranges cut so that each rank owns about as many pairs as the others:
  // `rows_of_pairs` are this rank's pairs' rows (users or items) in [0,
  // rows); the counts of every rank's are summed (an allreduce of `rows`
  // int64 values). Collective.
  static RowPartition balanced(Communicator& comm, std::int32_t rows,
                               std::span<const std::int32_t> rows_of_pairs);

  int ranks() const noexcept { return static_cast<int>(starts.size()) - 1; }
  std::int32_t begin(int rank) const { return static_cast<std::int32_t>(starts[rank]); }
  std::int32_t end(int rank) const { return static_cast<std::int32_t>(starts[rank + 1]); }
  int owner(std::int32_t row) const;
};

enum class PairKey { User, Item };

// Every pair goes to the rank that owns its user (or item); returns this
// rank's: the pairs of the rows it owns, in one process's order, with
// weights when any rank has them (1 for a rank's pairs without), and with
// their ratings when with_ratings and any rank has them (then every rank
// with pairs must: InvalidArgument otherwise), and with their timestamps
// when with_timestamps (every pair must have one: InvalidArgument).
// Collective.
Interactions owned_pairs(Communicator& comm, const RankPairs& mine, const RowPartition& partition,
                         PairKey key, bool with_ratings = false, bool with_timestamps = false);

// Every rank's pairs on rank `root`, in one process's order (other ranks get
// none, with the vocabulary sizes). Collective.
Interactions gather_pairs(Communicator& comm, const RankPairs& mine, int root = 0);

}  // namespace latent
