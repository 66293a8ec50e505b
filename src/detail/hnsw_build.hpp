#pragma once
// The construction of HnswIndex's graph: Malkov and Yashunin's insertion
// (each item searched for in the graph built so far, linked to the best it
// finds as their neighbour-selection heuristic keeps them, and linked back),
// by inner product itself (ip-NSW), not by Euclidean distance after a
// MIPS-to-L2 transform: on a MovieLens-20M-shaped ALS model the transform's
// graph found 0.30 of the exact top 10 at ef 64, the inner-product graph
// 0.998 (both then built by hnswlib).
//
// Written for latent, not taken from hnswlib 0.6.2 (Debian's), because two
// choices it lacks make a graph that finds more at the same effort
// (docs/benchmarks.md: the 1M-item benchmark catalog and four real models):
//
// - When a full list must take one more link, the heuristic cuts it to four
//   fifths of its capacity (faiss 1.15's prune_headroom), not to all of it:
//   the hubs, which every item wants to link to, keep fewer links, and a
//   search pays for every link of every item it expands.
// - A new item takes up to 2m links on level 0, as many as a list holds
//   (faiss's nb_neighbors(0)); hnswlib takes m.
//
// Items are inserted highest level first, each level in a seeded random
// order (faiss's order). Longest vector first within a level was measured
// and lost on the 1M-item two-tower catalog (recall@10 at ef 10 0.955
// against 0.961), though it had won with hnswlib's build.

#include <latent/hnsw_index.hpp>
#include <latent/matrix.hpp>

namespace latent::detail {

// The graph over rows 1.. of `items` (finite; checked by the caller), with
// `params`' m, ef_construction, seed and threads. `progress` hears of the
// items linked so far.
HnswIndex::Graph build_hnsw_graph(const Matrix& items, const HnswParams& params,
                                  const WorkProgress& progress);

}  // namespace latent::detail
